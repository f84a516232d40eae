function [Z, idx_pool, R_Z] = maxpooling(model, net, Zin, m, R_Zin)
% [Z, idx_pool, R_Z] = maxpooling(model, net, Zin, m, R_Zin)
%
% Max pooling of layer m over non-overlapping p x p windows,
% p = wd_subimage_pool(m): Z^{m+1,i} = mat(P_pool^{m,i} vec(sigma(S^{m,i}))), eq. (3).
%   Zin:      ch_input(m+1) x (ht_conv(m)*wd_conv(m)*num_data)   (sigma(S^m))
%   Z:        ch_input(m+1) x (ht_input(m+1)*wd_input(m+1)*num_data)
%   idx_pool: (ch_input(m+1)*ht_input(m+1)*wd_input(m+1)) x num_data, for each
%             pooled value the 1-based position of its winner within one
%             instance's ch_input(m+1)*ht_conv(m)*wd_conv(m) values.
% The windows are gathered with net.idx_phiZ_pool{m}; the column maximum
% follows MATLAB's max: the first maximal entry wins a tie.
% R_Z (only when R_Zin is given): R_Zin (same shape as Zin) taken at the
% same winners, the R-operator image of the pooling, shaped like Z.

d = model.ch_input(m+1);
p = model.wd_subimage_pool(m);
D = d*model.ht_conv(m)*model.wd_conv(m);
num_data = size(Zin, 2)*d/D;
Zin = reshape(Zin, D, num_data);
idx_window = net.idx_phiZ_pool{m};
[Z, winner] = max(reshape(Zin(idx_window(:) + D*(0:num_data-1)), p*p, []), [], 1);
Z = reshape(Z, d, []);
winner = reshape(winner, [], num_data);
idx_pool = idx_window((0:size(winner, 1)-1)'*(p*p) + winner);
if nargin > 4 && nargout > 2
    R_Zin = reshape(R_Zin, D, num_data);
    R_Z = reshape(R_Zin(idx_pool + D*(0:num_data-1)), d, []);
end
end
