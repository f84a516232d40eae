function [net, f, grad] = fungrad_minibatch(prob, param, model, net, task)
% [net, f, grad] = fungrad_minibatch(prob, param, model, net, task)
%
% Function value (and, for task 'fungrad', gradient) of eqs. (1)-(2) on all
% prob.l instances, summing lossgrad_subset over chunks of param.bsize:
%   f = reg/(2C) + (sum of losses)/l,  reg = sum_m ||W{m}||_F^2 + ||b{m}||^2
%   grad.dfdW{m} = W{m}/C + (sum of dlossdW{m})/l   (grad.dfdb{m} likewise)
% param.C is the C of the objective (cnn_train has multiplied the user's -C
% by l already).

L = param.L;
l = prob.l;
bsize = param.bsize;
fungrad = strcmp(task, 'fungrad');
if fungrad
	grad.dfdW = cell(L, 1);
	grad.dfdb = cell(L, 1);
	for m = 1 : L
		grad.dfdW{m} = zeros(size(model.weight{m}));
		grad.dfdb{m} = zeros(size(model.bias{m}));
	end
else
	grad = [];
end

f = 0;
for i = 1 : ceil(l/bsize)
	batch_idx = (i-1)*bsize + 1 : min(l, i*bsize);
	[net, loss] = lossgrad_subset(prob, param, model, net, batch_idx, task);
	f = f + loss;
	if fungrad
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
f = reg/(2*param.C) + f/l;
if fungrad
	for m = 1 : L
		grad.dfdW{m} = model.weight{m}/param.C + grad.dfdW{m}/l;
		grad.dfdb{m} = model.bias{m}/param.C + grad.dfdb{m}/l;
	end
end
