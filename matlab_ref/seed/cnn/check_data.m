function prob = check_data(prob, param)
% prob = check_data(prob, param)
%
% In:  prob.Z (l x a*b*d, one instance a row; channel k in columns
%      (k-1)*a*b+1..k*a*b, each channel image vec'ed column-major; may be
%      sparse and have fewer columns, the missing ones being zero) and,
%      optionally, prob.y (l x 1 labels, which the seed layout requires to
%      be exactly in 1..nL).
% Out: prob.data, (d*a*b) x l: column i is vec of the d x a x b array of
%      instance i (channel fastest, then height, then width); prob.l;
%      prob.label_mat, the nL x l one-hot matrix of prob.y (when y is given).

a = param.ht_input(1);
b = param.wd_input(1);
d = param.ch_input(1);
Z = prob.Z;
l = size(Z, 1);
if size(Z, 2) > a*b*d || (~issparse(Z) && size(Z, 2) ~= a*b*d)
	error('check_data: Z has %d columns, expected a*b*d = %d', size(Z, 2), a*b*d);
end
if size(Z, 2) < a*b*d
	Z = [Z sparse(l, a*b*d - size(Z, 2))];
end
Z = full(Z);
if any(~isfinite(Z(:)))
	error('check_data: Z contains NaN or Inf');
end
% (a*b) x d x l -> d x (a*b) x l -> (d*a*b) x l
prob.data = reshape(permute(reshape(Z', a*b, d, l), [2 1 3]), d*a*b, l);
prob.l = l;
if isfield(prob, 'y')
	y = prob.y(:);
	if numel(y) ~= l
		error('check_data: %d labels for %d instances', numel(y), l);
	end
	if any(y ~= round(y)) || any(y < 1) || any(y > param.nL)
		error('check_data: labels must be integers in 1..nL = %d', param.nL);
	end
	prob.y = y;
	prob.label_mat = full(sparse(y, 1:l, 1, param.nL, l));
end
