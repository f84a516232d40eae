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
n_sub = 0;
for c = 1 : numel(nets)
    n_sub = n_sub + size(nets{c}.Z{model.L+1}, 2);
end
damping = param.lambda + 1/param.C;
s = zeros(size(g), 'like', g);
r = -g;
d = r;
g_norm = norm(g);
rr = g_norm^2;
tol = param.xi*g_norm;
CGiter = 0;
while true
    CGiter = CGiter + 1;
    Gd = zeros(size(d), 'like', d);
    for c = 1 : numel(nets)
        if param.Jacobian
            Gd = Gd + JTBJv(model, nets{c}, d);
        else
            Gd = Gd + R_JTBJv(model, nets{c}, d);
        end
    end
    Md = damping*d + Gd/n_sub;
    step = rr/(d'*Md);
    s = s + step*d;
    r = r - step*Md;
    rr_new = r'*r;
    if sqrt(rr_new) <= tol || CGiter >= param.CGmax
        break;
    end
    d = r + (rr_new/rr)*d;
    rr = rr_new;
end
gs = s'*g;
sGs = s'*(-g - r - param.lambda*s);
end
