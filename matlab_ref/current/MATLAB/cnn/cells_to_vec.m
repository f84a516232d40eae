function v = cells_to_vec(W, b)
% v = cells_to_vec(W, b)
%
% The flat parameter vector: v(var_ptr(m):var_ptr(m+1)-1) = vec([W{m} b{m}]),
% i.e. vec(W{m}) followed by b{m}, for m = 1..numel(W).  Used for the
% weights (model.weight, model.bias) and for gradients (dlossdW, dlossdb).

L = numel(W);
parts = cell(2*L, 1);
for m = 1 : L
    parts{2*m-1} = W{m}(:);
    parts{2*m} = b{m}(:);
end
v = vertcat(parts{:});
end
