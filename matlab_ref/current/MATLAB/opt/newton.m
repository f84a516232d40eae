function [kept, info] = newton(prob, prob_v, param, model, net)
% [kept, info] = newton(prob, prob_v, param, model, net)
%
% Subsampled Gauss-Newton with Levenberg-Marquardt damping and a
% backtracking line search, as the real newton.m does it (param.C already
% times l):
%   0. f and its gradient on all data; prints 'initial f: %g'.
%   1. Iteration k: the subsets of assign_inst_idx, drawn anew when
%      mod(k, ceil(l/GNsize)) == 1 or GNsize == l; the subset of k is chunk
%      mod(k-1, ceil(l/GNsize)) + 1.
%   2. CG on ((lambda + 1/C) I + G/GNsize) s = -g.
%   3. alpha = 1, 1/2, 1/4, ... (no lower bound) until
%      f_new - f <= eta*alpha*g's; the weights move by (alpha - old)*s.
%   4. lambda from actred/prered (update_lambda); f and g at the new point;
%      |g| is the norm of this new gradient.
%   5. With prob_v (a validation set, [] for none): its accuracy val_acc;
%      the model of the strictly best val_acc is kept (start 0).
% Printed (the real code's formats):
%   %d-iter f: %g |g|: %g alpha: %g ratio: %g lambda: %g #CG: %d actred: %g prered: %g[ val_acc: %g]
%   total_#CG: %d
% info (our addition) holds f0 and per-iteration columns f, gnorm, alpha,
% ratio, lambda, cg, actred, prered, val_acc, and total_CG.
% newton(prob, param, model, net), the earlier form, is read as prob_v = [].

if nargin == 4
    net = model;
    model = param;
    param = prob_v;
    prob_v = [];
end
l = prob.l;
n_splits = ceil(l/param.GNsize);
info = struct('f0', [], 'f', [], 'gnorm', [], 'alpha', [], 'ratio', [], 'lambda', [], 'cg', [], ...
              'actred', [], 'prered', [], 'val_acc', [], 'total_CG', 0);
[net, f, g] = fungrad_minibatch(prob, param, model, net, 'fungrad');
fprintf('initial f: %g\n', f);
info.f0 = double(f);
kept = model;
kept_acc = 0;
n_cg = 0;
k = 0;
while k < param.iter_max
    k = k + 1;
    if mod(k, n_splits) == 1 || l == param.GNsize
        chunks = assign_inst_idx(param.GNsize, l);
    end
    subset = chunks{mod(k-1, n_splits) + 1};
    nets = subset_nets(prob, param, model, net, subset);
    [s, n_steps, gs, sGs] = CG(param, model, nets, g);
    n_cg = n_cg + n_steps;

    f_old = f;
    alpha = 1;
    old_alpha = 0;
    while true
        model = move(model, alpha - old_alpha, s);
        prered = alpha*gs + 0.5*alpha^2*sGs;
        [net, f] = fungrad_minibatch(prob, param, model, net, 'funonly');
        actred = f - f_old;
        if actred <= param.eta*alpha*gs
            break;
        end
        if alpha == 0
            error('newton: iteration %d: the line search halved the step to 0 without a decrease', k);
        end
        old_alpha = alpha;
        alpha = alpha/2;
    end
    param = update_lambda(param, actred, prered);
    [net, f, g] = fungrad_minibatch(prob, param, model, net, 'fungrad');
    gnorm = 0;
    for m = 1 : model.L
        gnorm = gnorm + norm(g.dfdW{m}, 'fro')^2 + norm(g.dfdb{m})^2;
    end
    gnorm = sqrt(gnorm);
    if ~isempty(prob_v)
        val_acc = accuracy(prob_v, param, model, net);
        if val_acc > kept_acc
            kept = model;
            kept_acc = val_acc;
        end
        fprintf('%d-iter f: %g |g|: %g alpha: %g ratio: %g lambda: %g #CG: %d actred: %g prered: %g val_acc: %g\n', k, f, gnorm, alpha, actred/prered, param.lambda, n_steps, actred, prered, val_acc);
        info.val_acc(k, 1) = val_acc;
    else
        kept = model;
        fprintf('%d-iter f: %g |g|: %g alpha: %g ratio: %g lambda: %g #CG: %d actred: %g prered: %g\n', k, f, gnorm, alpha, actred/prered, param.lambda, n_steps, actred, prered);
    end
    info.f(k, 1) = double(f);
    info.gnorm(k, 1) = double(gnorm);
    info.alpha(k, 1) = alpha;
    info.ratio(k, 1) = double(actred/prered);
    info.lambda(k, 1) = param.lambda;
    info.cg(k, 1) = n_steps;
    info.actred(k, 1) = double(actred);
    info.prered(k, 1) = double(prered);
end
info.total_CG = n_cg;
fprintf('total_#CG: %d\n', n_cg);
end

function acc = accuracy(prob_v, param, model, net)
% The validation accuracy: predict, then the fraction of equal labels.
labels = predict(prob_v, param, model, net);
acc = sum(labels == prob_v.y)/numel(prob_v.y);
end

function nets = subset_nets(prob, param, model, net, subset)
% -Jacobian 1: one net, feedforward and Jacobian of the whole subset;
% -Jacobian 0: one net per bsize chunk of the subset, after feedforward.
if param.Jacobian
    nets = {Jacobian(model, feedforward(prob.data(:, subset), model, net))};
    return;
end
n_chunks = ceil(numel(subset)/param.bsize);
nets = cell(n_chunks, 1);
for c = 1 : n_chunks
    idx = subset((c-1)*param.bsize+1 : min(numel(subset), c*param.bsize));
    nets{c} = feedforward(prob.data(:, idx), model, net);
end
end

function model = move(model, step, s)
% weight{m}, bias{m} moved by step*s (s flat, [vec(W); b] per layer).
[dW, db] = vec_to_cells(s, model);
for m = 1 : model.L
    model.weight{m} = model.weight{m} + step*dW{m};
    model.bias{m} = model.bias{m} + step*db{m};
end
end
