function [model, info] = adam(prob, param, model, net)
% [model, info] = adam(prob, param, model, net)
%
% Adam (facts page, section 7): beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8,
% the same batches (randperm(l, bsize), bsize = min(param.bsize, l)),
% gradient and learning-rate schedule as sgd:
%   g{m} = [dlossdW{m} dlossdb{m}]/bsize + [W{m} b{m}]/C
%   mt{m} = beta1*mt{m} + (1 - beta1)*g{m};  vt{m} = beta2*vt{m} + (1 - beta2)*g{m}.^2
%   mhat = mt{m}/(1 - beta1^k);  vhat = vt{m}/(1 - beta2^k)
%   [W{m} b{m}] = [W{m} b{m}] - lr*mhat./(sqrt(vhat) + epsilon)
%   step = step + 1;  lr = param.lr/(1 + decay*step)
% QUIRK kept from the original: the bias correction uses the EPOCH counter
% k, not the step counter, so within an epoch every step is corrected with
% the same factor (textbook Adam would use step + 1).
% After each epoch: fprintf('%d-epoch f: %.15g\n', k, f); info as in sgd.

L = model.L;
l = prob.l;
C = param.C;
bsize = min(param.bsize, l);
beta1 = 0.9;
beta2 = 0.999;
epsilon = 1e-8;
lr = param.lr;
step = 0;
mW = cell(L, 1);
mb = cell(L, 1);
vW = cell(L, 1);
vb = cell(L, 1);
for m = 1 : L
    mW{m} = zeros(size(model.weight{m}), 'like', model.weight{m});
    mb{m} = zeros(size(model.bias{m}), 'like', model.bias{m});
    vW{m} = mW{m};
    vb{m} = mb{m};
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
            mW{m} = beta1*mW{m} + (1 - beta1)*gW;
            mb{m} = beta1*mb{m} + (1 - beta1)*gb;
            vW{m} = beta2*vW{m} + (1 - beta2)*gW.^2;
            vb{m} = beta2*vb{m} + (1 - beta2)*gb.^2;
            model.weight{m} = model.weight{m} - lr*(mW{m}/(1 - beta1^k))./(sqrt(vW{m}/(1 - beta2^k)) + epsilon);
            model.bias{m} = model.bias{m} - lr*(mb{m}/(1 - beta1^k))./(sqrt(vb{m}/(1 - beta2^k)) + epsilon);
        end
        step = step + 1;
        lr = param.lr/(1 + param.decay*step);
    end
    [net, f] = fungrad_minibatch(prob, param, model, net, 'funonly');
    fprintf('%d-epoch f: %.15g\n', k, f);
    info.f(k, 1) = double(f);
end
end
