function phiZ = padding_and_phiZ(model, net, Z, m, num_data)
% phiZ = padding_and_phiZ(model, net, Z, m, num_data)
%
% phi(pad(Z)) of the slides, eq. (3): mat(P_phi^m P_pad^m vec(Z^{m,i})) for
% every instance i.
%   Z:    ch_input(m) x (ht_input(m)*wd_input(m)*num_data)
%   phiZ: (wd_filter(m)^2*ch_input(m)) x (ht_conv(m)*wd_conv(m)*num_data)
% Padding writes Z into a ch_input(m) x ht_pad(m) x wd_pad(m) x num_data
% zero array (no idx_pad in this layout); the patches are then gathered
% with net.idx_phiZ{m} plus the offset of each instance.

d = model.ch_input(m);
a = model.ht_input(m);
b = model.wd_input(m);
p = model.wd_pad_added(m);
a_pad = model.ht_pad(m);
b_pad = model.wd_pad(m);
if p > 0
    Z_pad = zeros(d, a_pad, b_pad, num_data, 'like', Z);
    Z_pad(:, p+1:p+a, p+1:p+b, :) = reshape(Z, d, a, b, num_data);
else
    Z_pad = Z;
end
Z_pad = reshape(Z_pad, d*a_pad*b_pad, num_data);
idx = net.idx_phiZ{m}(:) + (d*a_pad*b_pad)*(0:num_data-1);
phiZ = reshape(Z_pad(idx), model.wd_filter(m)^2*d, []);
end
