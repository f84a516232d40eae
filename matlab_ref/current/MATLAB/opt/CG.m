function [s, err, CGiter] = CG(param, model, net, grad)
% [s, err, CGiter] = CG(param, model, net, grad)
%
% Conjugate gradient for the subsampled Gauss-Newton system of newton:
%   ((lambda + 1/C) I + G/GNsize) s = -grad,   G = sum over the GNsize subset of J' B J, B = 2I,
% lambda = param.lambda, C = param.C (already multiplied by l), started
% from s = 0 and stopped when ||r|| <= xi*||grad|| (checked after each
% step) or after CGmax steps.  err is the final residual r = -grad - M s
% as updated by the recurrence; CGiter the number of steps (products with
% M; #CG).
% net: cell of nets, one per bsize chunk of the subset, each after
% feedforward (and Jacobian when param.Jacobian is 1).  G v is summed over
% them with JTBJv (stored Jacobian, -Jacobian 1) or R_JTBJv (R-operator,
% -Jacobian 0).

damping = param.lambda + 1/param.C;
s = zeros(size(grad), 'like', grad);
r = -grad;
d = r;
rTr = r'*r;
cgtol = param.xi*sqrt(rTr);
CGiter = 0;
while CGiter < param.CGmax
    CGiter = CGiter + 1;
    Md = Gv(param, model, net, d)/param.GNsize + damping*d;
    alpha = rTr/(d'*Md);
    s = s + alpha*d;
    r = r - alpha*Md;
    rnewTrnew = r'*r;
    if sqrt(rnewTrnew) <= cgtol
        break;
    end
    beta = rnewTrnew/rTr;
    d = r + beta*d;
    rTr = rnewTrnew;
end
err = r;
end

function out = Gv(param, model, net, v)
% G v = sum over the chunks of J' B J v (no 1/GNsize, no damping).
out = zeros(size(v), 'like', v);
for c = 1 : numel(net)
    if param.Jacobian
        out = out + JTBJv(model, net{c}, v);
    else
        out = out + R_JTBJv(model, net{c}, v);
    end
end
end
