function net = init_net(model, param)
% net = init_net(model, param)
%
% Index maps and empty storage for one network pass (current layout).
%   net.idx_phiZ{m}      = find_index_phiZ(ht_pad(m), wd_pad(m), ch_input(m), wd_filter(m), strides(m))
%   net.idx_phiZ_pool{m} = find_index_phiZ(ht_conv(m), wd_conv(m), ch_input(m+1), p, p),
%                          p = wd_subimage_pool(m) (pooled layers only, else [])
% There is no idx_pad: padding writes into a 4-D zero array.
% Storage filled later: net.Z (L+1 cells), net.phiZ, net.idx_pool (LC),
% net.dlossdW, net.dlossdb, net.dzdS (L).  net.bsize = param.bsize.

L = model.L;
LC = model.LC;
if ~isfield(param, 'bsize') || numel(param.bsize) ~= 1 || param.bsize < 1 || param.bsize ~= round(param.bsize)
    error('init_net: param.bsize must be a positive integer');
end
net = struct();
net.bsize = param.bsize;
net.idx_phiZ = cell(LC, 1);
net.idx_phiZ_pool = cell(LC, 1);
for m = 1 : LC
    net.idx_phiZ{m} = find_index_phiZ(model.ht_pad(m), model.wd_pad(m), model.ch_input(m), model.wd_filter(m), model.strides(m));
    p = model.wd_subimage_pool(m);
    if p > 1
        net.idx_phiZ_pool{m} = find_index_phiZ(model.ht_conv(m), model.wd_conv(m), model.ch_input(m+1), p, p);
    end
end
net.Z = cell(L+1, 1);
net.phiZ = cell(LC, 1);
net.idx_pool = cell(LC, 1);
net.dlossdW = cell(L, 1);
net.dlossdb = cell(L, 1);
net.dzdS = cell(L, 1);
end
