function [model, info] = sgd(prob, param, model, net)
% [model, info] = sgd(prob, param, model, net)
%
% Mini-batch SGD with momentum (facts page, section 7).  param.C is already
% multiplied by l.  Per epoch k = 1..epoch_max, ceil(l/bsize) steps, each on
% batch_idx = randperm(l, bsize) (bsize = min(param.bsize, l)):
%   g{m}   = [dlossdW{m} dlossdb{m}]/bsize + [W{m} b{m}]/C
%   v{m}   = momentum*v{m} - lr*g{m};   [W{m} b{m}] = [W{m} b{m}] + v{m}
%   step = step + 1;  lr = param.lr/(1 + decay*step)
% After each epoch f on all data (fungrad_minibatch, 'funonly') is printed:
%   fprintf('%d-epoch f: %.15g\n', k, f)
% info.f holds those values (epoch k in info.f(k)), info.f0 the start value.

L = model.L;
l = prob.l;
C = param.C;
bsize = min(param.bsize, l);
lr = param.lr;
step = 0;
vW = cell(L, 1);
vb = cell(L, 1);
for m = 1 : L
    vW{m} = zeros(size(model.weight{m}), 'like', model.weight{m});
    vb{m} = zeros(size(model.bias{m}), 'like', model.bias{m});
end
[net, f0] = fungrad_minibatch(prob, param, model, net, 'funonly');
info = struct('f0', double(f0), 'f', []);
for k = 1 : param.epoch_max
    for j = 1 : ceil(l/bsize)
        batch_idx = randperm(l, bsize);
        net = lossgrad_subset(prob, model, net, batch_idx, 'fungrad');
        for m = 1 : L
            gW = net.dlossdW{m}/bsize + model.weight{m}/C;
            gb = net.dlossdb{m}/bsize + model.bias{m}/C;
            vW{m} = param.momentum*vW{m} - lr*gW;
            vb{m} = param.momentum*vb{m} - lr*gb;
            model.weight{m} = model.weight{m} + vW{m};
            model.bias{m} = model.bias{m} + vb{m};
        end
        step = step + 1;
        lr = param.lr/(1 + param.decay*step);
    end
    [net, f] = fungrad_minibatch(prob, param, model, net, 'funonly');
    fprintf('%d-epoch f: %.15g\n', k, f);
    info.f(k, 1) = double(f);
end
end
