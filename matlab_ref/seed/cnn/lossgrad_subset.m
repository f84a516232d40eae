function [net, loss] = lossgrad_subset(prob, param, model, net, batch_idx, task)
% [net, loss] = lossgrad_subset(prob, param, model, net, batch_idx, task)
%
% Loss of the instances batch_idx, loss = norm(Z{L+1} - Y, 'fro')^2, and
% for task 'fungrad' the gradients net.dlossdW{m}, net.dlossdb{m} by the
% backward pass of the slides ("summary of operations" and its code segment):
%   fully-connected m = L..LC+1 (eqs. 19-22), starting from 2*(Z{L+1} - Y):
%     dlossdW{m} = dXidS*Z{m}',  dlossdb{m} = sum(dXidS, 2),
%     dXidS = (W{m}'*dXidS) .* (Z{m} > 0)
%   convolutional m = LC..1 (eqs. 26-28):
%     dXidS = mat(vec(dXidS)^T P_pool)                     (pooled layers)
%     dlossdW{m} = dXidS*phiZ',  dlossdb{m} = dXidS*ones
%     if m > 1: dXidS = vec(W{m}'*dXidS)^T P_phi P_pad, then .* (Z{m} > 0)
% One statement per line (the harness instruments it).

L = param.L;
LC = param.LC;
num_data = numel(batch_idx);
Y = prob.label_mat(:, batch_idx);
net = feedforward(prob.data(:, batch_idx), param, model, net);
loss = norm(net.Z{L+1} - Y, 'fro')^2;

if strcmp(task, 'fungrad')
	% fully-connected layers
	dXidS = 2*(net.Z{L+1} - Y);
	for m = L : -1 : LC+1
		net.dlossdW{m} = dXidS*net.Z{m}';
		net.dlossdb{m} = sum(dXidS, 2);
		dXidS = model.weight{m}'*dXidS;
		dXidS = dXidS.*(net.Z{m} > 0);
	end

	% convolutional layers
	dXidS = reshape(dXidS, model.ch_input(LC+1), []);
	for m = LC : -1 : 1
		if model.wd_subimage_pool(m) > 1
			dXidS = reshape(vTP(param, model, net, m, dXidS, 'pool_gradient'), model.ch_input(m+1), []);
		end
		phiZ = padding_and_phiZ(model, net, m);
		net.dlossdW{m} = dXidS*phiZ';
		net.dlossdb{m} = dXidS*ones(model.wd_conv(m)*model.ht_conv(m)*num_data, 1);
		if m > 1
			V = model.weight{m}'*dXidS;
			dXidS = reshape(vTP(param, model, net, m, V, 'phi_gradient'), model.ch_input(m), []);
			% vTP_pad
			a = model.ht_pad(m);
			b = model.wd_pad(m);
			dXidS = dXidS(:, net.idx_pad{m} + a*b*(0:num_data-1));
			% activation function
			dXidS = dXidS.*(net.Z{m} > 0);
		end
	end
elseif ~strcmp(task, 'funonly')
	error('lossgrad_subset: task must be funonly or fungrad, not %s', task);
end
