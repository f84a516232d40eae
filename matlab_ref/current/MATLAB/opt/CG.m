function [s, CGiter, gs, sGs] = CG(param, model, nets, grad)
% [s, CGiter, gs, sGs] = CG(param, model, nets, grad)
%
% Conjugate gradient from s = 0 for ((lambda + 1/C) I + G/GNsize) s = -g,
% g the flat gradient of grad, G*v summed over nets (JTBJv with -Jacobian 1,
% R_JTBJv with 0), GNsize the instances of nets.  As the real CG.m: the
% tolerance is xi*norm(g), the residual is tested only after a step (at
% least one step is taken), at most CGmax steps; gs = s'g and
% sGs = s'(-g - r - lambda*s) for the predicted reduction.

g = cells_to_vec(grad.dfdW, grad.dfdb);
GNsize = 0;
for c = 1 : numel(nets)
    GNsize = GNsize + size(nets{c}.Z{model.L+1}, 2);
end
s = zeros(size(g), 'like', g);
r = -g;
v = r;
gnorm = norm(g);
rTr = gnorm^2;
cgtol = param.xi*gnorm;
for CGiter = 1 : param.CGmax
    Gv = zeros(size(v), 'like', v);
    for c = 1 : numel(nets)
        if param.Jacobian
            Gv = Gv + JTBJv(model, nets{c}, v);
        else
            Gv = Gv + R_JTBJv(model, nets{c}, v);
        end
    end
    Gv = (param.lambda + 1/param.C)*v + Gv/GNsize;
    alpha = rTr/(v'*Gv);
    s = s + alpha*v;
    r = r - alpha*Gv;
    rnewTrnew = r'*r;
    if sqrt(rnewTrnew) <= cgtol || CGiter == param.CGmax
        break;
    end
    beta = rnewTrnew/rTr;
    rTr = rnewTrnew;
    v = r + beta*v;
end
gs = s'*g;
sGs = s'*(-g - r - param.lambda*s);
end
