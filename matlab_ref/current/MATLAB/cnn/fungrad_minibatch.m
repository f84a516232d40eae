function [net, f, grad] = fungrad_minibatch(prob, param, model, net, task)
% [net, f, grad] = fungrad_minibatch(prob, param, model, net, task)
%
% Objective and gradient on all prob.l instances, in consecutive batches of
% param.bsize (slides eqs. 1-2):
%   f = reg/(2C) + (sum of batch losses)/l,  reg = sum_m ||W{m}||_F^2 + ||b{m}||^2
%   grad.dfdW{m} = W{m}/C + (sum of batch dlossdW{m})/l   (same for dfdb)
% C is param.C (cnn_train has already multiplied the user's C by l).
% task: 'funonly' (grad is []) or 'fungrad'.

L = model.L;
l = prob.l;
bsize = param.bsize;
C = param.C;
f = 0;
grad = [];
if strcmp(task, 'fungrad')
    grad.dfdW = cell(L, 1);
    grad.dfdb = cell(L, 1);
    for m = 1 : L
        grad.dfdW{m} = zeros(size(model.weight{m}), 'like', model.weight{m});
        grad.dfdb{m} = zeros(size(model.bias{m}), 'like', model.bias{m});
    end
end
for i = 1 : ceil(l/bsize)
    batch_idx = (i-1)*bsize+1 : min(l, i*bsize);
    [net, loss] = lossgrad_subset(prob, model, net, batch_idx, task);
    f = f + loss;
    if strcmp(task, 'fungrad')
        for m = 1 : L
            grad.dfdW{m} = grad.dfdW{m} + net.dlossdW{m};
            grad.dfdb{m} = grad.dfdb{m} + net.dlossdb{m};
        end
    end
end
reg = 0;
for m = 1 : L
    reg = reg + norm(model.weight{m}, 'fro')^2 + norm(model.bias{m})^2;
end
f = reg/(2*C) + f/l;
if strcmp(task, 'fungrad')
    for m = 1 : L
        grad.dfdW{m} = model.weight{m}/C + grad.dfdW{m}/l;
        grad.dfdb{m} = model.bias{m}/C + grad.dfdb{m}/l;
    end
end
end
