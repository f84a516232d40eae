function [model, info] = newton(prob, param, model, net)
% [model, info] = newton(prob, param, model, net)
%
% Subsampled Gauss-Newton method with Levenberg-Marquardt damping and a
% backtracking line search (facts page, section 7).  param.C is already
% multiplied by l; param.lambda is the current damping.  Each iteration
% k = 1..iter_max:
%   1. f and grad on all data: fungrad_minibatch(..., 'fungrad') (bsize chunks).
%   2. The GNsize subset: chunk j = mod(k-1, ceil(l/GNsize)) + 1 of
%      inst_idx (assign_inst_idx: randperm(l) extended by its own first
%      GNsize entries; drawn anew when j = 1).  The subset goes through
%      feedforward (and Jacobian when -Jacobian 1) in chunks of bsize.
%   3. [s, err, CGiter] = CG(...): ((lambda + 1/C) I + G/GNsize) s = -grad from s = 0.
%   4. Line search: alpha = 1, halved until f_new - f <= eta*alpha*grad's
%      (f_new by fungrad_minibatch(..., 'funonly')).  If alpha falls below
%      1e-10 the line search has failed: 'Line search fails.' is printed,
%      the weights stay and the training stops.
%   5. actred = f_new - f, prered = alpha*grad's + 0.5*alpha^2*s'Gs with
%      s'Gs = s'(-grad - err - lambda*s), ratio = actred/prered;
%      param = update_lambda(param, ratio).
% Printed per iteration (the Python side prints the same format):
%   fprintf('%d-iter f: %.15g |g|: %.15g alpha: %.15g ratio: %.15g lambda: %.15g #CG: %d actred: %.15g prered: %.15g\n', ...
%           k, f_new, norm(grad), alpha, ratio, param.lambda, CGiter, actred, prered)
% f: the objective after the step of iteration k; |g|: the norm of the
% gradient at the start of iteration k (the one CG solved for); lambda:
% the value after update_lambda.  At the end:
%   fprintf('total_#CG: %d\n', total_CG)
% info holds per-iteration columns f, gnorm, alpha, ratio, lambda, cg,
% actred, prered (doubles), f0 (the objective at the start) and total_CG.

l = prob.l;
GNsize = param.GNsize;
num_subsets = ceil(l/GNsize);
total_CG = 0;
info = struct('f0', [], 'f', [], 'gnorm', [], 'alpha', [], 'ratio', [], 'lambda', [], 'cg', [], 'actred', [], 'prered', [], 'total_CG', 0);
for k = 1 : param.iter_max
    [net, f, grad] = fungrad_minibatch(prob, param, model, net, 'fungrad');
    if k == 1
        info.f0 = double(f);
    end
    grad = cells_to_vec(grad.dfdW, grad.dfdb);
    j = mod(k-1, num_subsets) + 1;
    if j == 1
        inst_idx = assign_inst_idx(l, GNsize);
    end
    subset = inst_idx((j-1)*GNsize+1 : j*GNsize);
    nets = subset_nets(prob, param, model, net, subset);
    [s, err, CGiter] = CG(param, model, nets, grad);
    total_CG = total_CG + CGiter;
    gs = grad'*s;
    sGs = s'*(-grad - err - param.lambda*s);
    theta = cells_to_vec(model.weight, model.bias);
    alpha = 1;
    while true
        model_new = update_weights(model, theta, alpha, s);
        [net, f_new] = fungrad_minibatch(prob, param, model_new, net, 'funonly');
        if f_new - f <= param.eta*alpha*gs
            break;
        end
        alpha = alpha/2;
        if alpha < 1e-10
            break;
        end
    end
    if alpha < 1e-10
        fprintf('Line search fails.\n');
        break;
    end
    model = model_new;
    actred = f_new - f;
    prered = alpha*gs + 0.5*alpha^2*sGs;
    ratio = actred/prered;
    param = update_lambda(param, ratio);
    gnorm = norm(grad);
    fprintf('%d-iter f: %.15g |g|: %.15g alpha: %.15g ratio: %.15g lambda: %.15g #CG: %d actred: %.15g prered: %.15g\n', k, f_new, gnorm, alpha, ratio, param.lambda, CGiter, actred, prered);
    info.f(k, 1) = double(f_new);
    info.gnorm(k, 1) = double(gnorm);
    info.alpha(k, 1) = double(alpha);
    info.ratio(k, 1) = double(ratio);
    info.lambda(k, 1) = double(param.lambda);
    info.cg(k, 1) = CGiter;
    info.actred(k, 1) = double(actred);
    info.prered(k, 1) = double(prered);
end
info.total_CG = total_CG;
fprintf('total_#CG: %d\n', total_CG);
end

function nets = subset_nets(prob, param, model, net, subset)
% feedforward (and Jacobian when -Jacobian 1) of the subset, in chunks of bsize.
n_chunks = ceil(numel(subset)/param.bsize);
nets = cell(n_chunks, 1);
for c = 1 : n_chunks
    idx = subset((c-1)*param.bsize+1 : min(numel(subset), c*param.bsize));
    nets{c} = feedforward(prob.data(:, idx), model, net);
    if param.Jacobian
        nets{c} = Jacobian(model, nets{c});
    end
end
end

function model = update_weights(model, theta, alpha, s)
% weight{m}, bias{m} from the flat vector theta + alpha*s.
[model.weight, model.bias] = vec_to_cells(theta + alpha*s, model);
end
