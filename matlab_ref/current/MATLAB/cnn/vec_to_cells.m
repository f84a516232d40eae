function [W, b] = vec_to_cells(v, model)
% [W, b] = vec_to_cells(v, model)
%
% Inverse of cells_to_vec: splits the flat vector v at model.var_ptr into
% W{m} (shaped as model.weight{m}) and b{m} (shaped as model.bias{m}).

L = model.L;
W = cell(L, 1);
b = cell(L, 1);
for m = 1 : L
    Wb = reshape(v(model.var_ptr(m):model.var_ptr(m+1)-1), size(model.weight{m}, 1), []);
    W{m} = Wb(:, 1:end-1);
    b{m} = Wb(:, end);
end
end
