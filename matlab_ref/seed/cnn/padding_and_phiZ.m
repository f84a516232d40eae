function phiZ = padding_and_phiZ(model, net, m)
% phiZ = padding_and_phiZ(model, net, m)
%
% phi(pad(Z^m)) = mat(P_phi P_pad vec(Z^m)) for all instances at once.
% In:  net.Z{m}, d x (a*b*n), n = net.num_sampled_data, d = ch_input(m).
% Out: phiZ, (h*h*d) x (a_conv*b_conv*n), h = wd_filter(m).

n = net.num_sampled_data;
d = model.ch_input(m);
a = model.ht_pad(m);
b = model.wd_pad(m);
h = model.wd_filter(m);
Z = net.Z{m};
if model.wd_pad_added(m) > 0
	% P_pad: write Z into a zero array at idx_pad, offset by a*b per instance
	idx = net.idx_pad{m} + a*b*(0:n-1);
	dZ = zeros(d, a*b*n, class(Z));
	dZ(:, idx(:)) = Z;
	Z = dZ;
end
% P_phi: gather the patches of each instance
Z = reshape(Z, d*a*b, n);
phiZ = Z(net.idx_phiZ{m}, :);
phiZ = reshape(phiZ, h*h*d, []);
