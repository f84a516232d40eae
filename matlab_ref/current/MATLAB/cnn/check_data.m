function prob = check_data(y, Z, model)
% prob = check_data(y, Z, model)
%
% y: l x 1 labels (any values); Z: l x (a*b*d), one instance a row, channel
% k in columns (k-1)*a*b+1 .. k*a*b, each channel image vec'ed column-major.
% Z may be sparse; a sparse Z may have fewer than a*b*d columns, the missing
% trailing columns being zero.  (a, b, d) = (ht_input(1), wd_input(1), ch_input(1)).
%
% Returns prob with
%   prob.data     (d*a*b) x l, channel fastest, then height, then width:
%                 column i is vec of the d x a x b array of instance i;
%   prob.y        the labels as given (a column);
%   prob.label_enum, prob.y_mapped   [label_enum, ~, y_mapped] = unique(y);
%   prob.l        the number of instances.
% prob.data is cast with ftype and moved with gpu.

a = model.ht_input(1);
b = model.wd_input(1);
d = model.ch_input(1);
y = y(:);
l = numel(y);
if size(Z, 1) ~= l
    error('check_data: Z has %d rows but y has %d labels', size(Z, 1), l);
end
if l == 0
    error('check_data: there are no instances');
end
if size(Z, 2) ~= a*b*d
    if issparse(Z) && size(Z, 2) < a*b*d
        Z = [Z, sparse(l, a*b*d - size(Z, 2))];
    else
        error('check_data: Z has %d columns, the configuration needs %d x %d x %d = %d', size(Z, 2), a, b, d, a*b*d);
    end
end
Z = full(Z);
if ~isnumeric(Z) || any(~isfinite(Z(:)))
    error('check_data: Z must be numeric with no NaN or Inf values');
end
if ~isnumeric(y) || any(~isfinite(y))
    error('check_data: y must be numeric with no NaN or Inf values');
end
[label_enum, ~, y_mapped] = unique(y);
if numel(label_enum) > model.nL
    error('check_data: y has %d distinct labels but the network has %d outputs', numel(label_enum), model.nL);
end

prob = struct();
prob.l = l;
prob.y = y;
prob.label_enum = label_enum;
prob.y_mapped = y_mapped(:);
prob.data = gpu(ftype(reshape(permute(reshape(Z', a*b, d, l), [2 1 3]), d*a*b, l)));
end
