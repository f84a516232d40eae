function Gv = JTBJv(model, net, v)
% Gv = JTBJv(model, net, v)
%
% Gauss-Newton product G v = J' B J v, B = 2I (squared loss), summed over
% the instances of the last feedforward, with the stored Jacobian
% net.dzdS (Jacobian.m; -Jacobian 1).  v and Gv are flat parameter vectors
% (cells_to_vec layout).  For each layer m, with phi = phiZ{m} (conv) or
% Z{m} (full) and R{S^m} = V_W{m}*phi + v_b{m}:
%   (J v)(k, i) = sum_m <dzdS{m}(:, block (k,i)), R{S^{m,i}}>
%   u = B (J v) = 2 (J v)
%   T{m}(:, block i) = sum_k u(k, i) dzdS{m}(:, block (k,i))
%   (J' u) for layer m: [T{m}*phi', sum(T{m}, 2)]   (eqs. 12, 14)

L = model.L;
LC = model.LC;
nL = model.nL;
num_data = size(net.Z{L+1}, 2);
[VW, vb] = vec_to_cells(v, model);
phi = cell(L, 1);
for m = 1 : L
    if m <= LC
        phi{m} = net.phiZ{m};
    else
        phi{m} = net.Z{m};
    end
end
Jv_ = zeros(nL, num_data, 'like', v);
for m = 1 : L
    R_S = reshape(VW{m}*phi{m} + vb{m}, [], 1, num_data);
    dzdS = reshape(net.dzdS{m}, [], nL, num_data);
    Jv_ = Jv_ + reshape(sum(dzdS .* R_S, 1), nL, num_data);
end
u = 2*Jv_;
dW = cell(L, 1);
db = cell(L, 1);
for m = 1 : L
    dzdS = reshape(net.dzdS{m}, [], nL, num_data);
    T = reshape(sum(dzdS .* reshape(u, 1, nL, num_data), 2), size(net.dzdS{m}, 1), []);
    dW{m} = T*phi{m}';
    db{m} = sum(T, 2);
end
Gv = cells_to_vec(dW, db);
end
