function vTP = vTP(param, model, net, m, V, op)
% vTP = vTP(param, model, net, m, V, op)
%
% vec(V)^T P as a row vector, by accumarray (the slides' eqs. (26), (28)), n = net.num_sampled_data:
%   'pool_gradient' (eq. 26): V is d x (a_out*b_out*n), d = ch_input(m+1);
%       scatters into d*a_conv*b_conv*n positions given by idx_pool{m}.
%   'phi_gradient' (eq. 28, vec(W'*Delta)^T P_phi): V is
%       (h*h*d) x (a_conv*b_conv*n), d = ch_input(m), h = wd_filter(m);
%       scatters into d*a_pad*b_pad*n positions given by idx_phiZ{m};
%       overlapping patches add up.
%   'pool_Jacobian', 'phi_Jacobian': the same for nL = param.nL vectors per
%       instance; the columns of V (and of the result) run class fastest,
%       then instance.

n = net.num_sampled_data;
switch op
	case {'pool_gradient', 'pool_Jacobian'}
		d = model.ch_input(m+1);
		a = model.ht_conv(m);
		b = model.wd_conv(m);
		idx = net.idx_pool{m};
	case {'phi_gradient', 'phi_Jacobian'}
		d = model.ch_input(m);
		a = model.ht_pad(m);
		b = model.wd_pad(m);
		idx = repmat(net.idx_phiZ{m}, 1, n);
	otherwise
		error('vTP: unknown operation %s', op);
end
if strcmp(op, 'pool_Jacobian') || strcmp(op, 'phi_Jacobian')
	nV = param.nL;
else
	nV = 1;
end
% one column of positions per instance, repeated for the nV vectors of it
idx = reshape(idx, [], 1, n);
subs = idx + d*a*b*reshape(0:nV*n-1, 1, nV, n);
vTP = accumarray(subs(:), V(:), [d*a*b*nV*n 1])';
