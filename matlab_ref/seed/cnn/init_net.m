function net = init_net(param, model)
% net = init_net(param, model)
%
% Index maps of the slides' P matrices (eq. (3)), 1-based:
%   net.idx_pad{m}       positions of the unpadded image in the padded one
%   net.idx_phiZ{m}      P_phi of conv layer m on the padded input
%   net.idx_phiZ_pool{m} the pooling windows (h = s = pool width), pooled layers
% and empty cells for what feedforward / lossgrad_subset fill in.
%
% Note: the seed original passes (wd_pad, ht_pad) to find_index_phiZ, which
% is wrong whenever a padded input is not square. We pass (ht_pad, wd_pad).

L = param.L;
LC = param.LC;
net.idx_pad = cell(LC, 1);
net.idx_phiZ = cell(LC, 1);
net.idx_phiZ_pool = cell(LC, 1);
for m = 1 : LC
	net.idx_pad{m} = find_index_padding(model, m);
	net.idx_phiZ{m} = find_index_phiZ(model.ht_pad(m), model.wd_pad(m), model.ch_input(m), model.wd_filter(m), model.strides(m));
	if model.wd_subimage_pool(m) > 1
		net.idx_phiZ_pool{m} = find_index_phiZ(model.ht_conv(m), model.wd_conv(m), model.ch_input(m+1), model.wd_subimage_pool(m), model.wd_subimage_pool(m));
	end
end
net.num_sampled_data = 0;
net.Z = cell(L+1, 1);
net.idx_pool = cell(LC, 1);
net.dlossdW = cell(L, 1);
net.dlossdb = cell(L, 1);
