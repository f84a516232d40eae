function [Zout, idx_pool] = maxpooling(model, net, m)
% [Zout, idx_pool] = maxpooling(model, net, m)
%
% Z^{m+1} = mat(P_pool vec(sigma(S^m))) (eq. 3): max over non-overlapping
% h x h windows, h = wd_subimage_pool(m).
% In:  net.Z{m+1}, d x (a_conv*b_conv*n), d = ch_input(m+1).
% Out: Zout, d x (a_out*b_out*n); idx_pool, (d*a_out*b_out) x n, for each
%      pooled output the 1-based linear position (within one instance's
%      d*a_conv*b_conv values) of the winner. MATLAB's max returns the first
%      maximal entry of a tie (frequent: ReLU gives exact zeros).

n = net.num_sampled_data;
d = model.ch_input(m+1);
a = model.ht_conv(m);
b = model.wd_conv(m);
h = model.wd_subimage_pool(m);
Z = reshape(net.Z{m+1}, d*a*b, n);
Z = Z(net.idx_phiZ_pool{m}, :);
[Zout, I] = max(reshape(Z, h*h, []), [], 1);
Zout = reshape(Zout, d, []);
% window k of an instance holds idx_phiZ_pool{m}((k-1)*h*h + (1:h*h))
num_windows = numel(net.idx_phiZ_pool{m})/(h*h);
I = reshape(I, num_windows, n);
idx_pool = net.idx_phiZ_pool{m}(I + h*h*(0:num_windows-1)');
idx_pool = reshape(idx_pool, num_windows, n);
