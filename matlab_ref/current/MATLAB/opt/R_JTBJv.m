function Gv = R_JTBJv(model, net, v)
% Gv = R_JTBJv(model, net, v)
%
% Gauss-Newton product G v = J' B J v, B = 2I, summed over the instances of
% the last feedforward, without a stored Jacobian (-Jacobian 0): J v by the
% R-operator forward pass (Jv.m), then J' (2 J v) by the backward pass
% (JTv.m).  v and Gv are flat parameter vectors (cells_to_vec layout).

u = 2*Jv(model, net, v);
[dW, db] = JTv(model, net, u);
Gv = cells_to_vec(dW, db);
end
