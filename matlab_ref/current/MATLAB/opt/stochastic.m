function [kept, info] = stochastic(prob, prob_v, param, model, net, method)
% [kept, info] = stochastic(prob, prob_v, param, model, net, method)
%
% The epochs of sgd ('sgd') and adam ('adam'): see those files.

L = model.L;
l = prob.l;
nb = param.bsize;
lr = param.lr;
step = 1;
vel = cell(L, 1);
M = cell(L, 1);
V = cell(L, 1);
for m = 1 : L
    vel{m} = 0;
    M{m} = zeros(numel(model.weight{m}) + numel(model.bias{m}), 1);
    V{m} = M{m};
end
info = struct('loss', [], 'val_acc', []);
kept = model;
kept_acc = 0;
for k = 1 : param.epoch_max
    for j = 1 : ceil(l/nb)
        batch = randperm(l, nb);
        [net, loss] = lossgrad_subset(prob, model, net, batch, 'fungrad');
        for m = 1 : L
            if strcmp(method, 'sgd')
                Grad = [net.dlossdW{m} net.dlossdb{m}]/nb + [model.weight{m} model.bias{m}]/param.C;
                vel{m} = param.momentum*vel{m} - lr*Grad;
                model.weight{m} = model.weight{m} + vel{m}(:, 1:end-1);
                model.bias{m} = model.bias{m} + vel{m}(:, end);
            else
                n_w = numel(model.weight{m});
                g = [model.weight{m}(:); model.bias{m}]/param.C + [net.dlossdW{m}(:); net.dlossdb{m}]/nb;
                M{m} = 0.9*M{m} + (1 - 0.9)*g;
                V{m} = 0.999*V{m} + (1 - 0.999)*(g.*g);
                u = (M{m}/(1 - 0.9^k))./(sqrt(V{m}/(1 - 0.999^k)) + 1e-8);
                model.weight{m} = model.weight{m} - param.lr*reshape(u(1:n_w), size(model.weight{m}, 1), []);
                model.bias{m} = model.bias{m} - param.lr*u(n_w+1:end);
            end
        end
        if strcmp(method, 'sgd')
            lr = param.lr/(1 + param.decay*step);
            step = step + 1;
        end
    end
    if ~isempty(prob_v)
        labels = predict(prob_v, param, model, net);
        val_acc = sum(labels == prob_v.y)/numel(prob_v.y);
        if val_acc > kept_acc
            kept = model;
            kept_acc = val_acc;
        end
        fprintf('%d-epoch loss/batch_size: %g val_acc: %g\n', k, loss/nb, val_acc);
        info.val_acc(k, 1) = val_acc;
    else
        kept = model;
        fprintf('%d-epoch loss/batch_size: %g\n', k, loss/nb);
    end
    info.loss(k, 1) = double(loss/nb);
end
end
