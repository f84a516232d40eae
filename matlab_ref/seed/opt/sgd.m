function [model, net] = sgd(prob, param, model, net)
% [model, net] = sgd(prob, param, model, net)
%
% Stochastic gradient with momentum (as the current layout's opt/sgd.m). Each of
% param.epoch_max epochs takes ceil(l/bsize) steps; a step draws
% batch_idx = randperm(l, bsize), takes the stochastic gradient
%   g{m} = [dlossdW{m} dlossdb{m}]/bsize + [W{m} b{m}]/C,
% updates v{m} = momentum*v{m} - lr*g{m}, [W{m} b{m}] += v{m}, and after
% each step sets lr = lr0/(1 + decay*step). After each epoch f on all data
% is printed.

L = param.L;
l = prob.l;
bsize = min(param.bsize, l);
lr = param.lr;
step = 0;
vW = cell(L, 1);
vb = cell(L, 1);
for m = 1 : L
	vW{m} = zeros(size(model.weight{m}));
	vb{m} = zeros(size(model.bias{m}));
end

for k = 1 : param.epoch_max
	for j = 1 : ceil(l/bsize)
		batch_idx = randperm(l, bsize);
		[net, ~] = lossgrad_subset(prob, param, model, net, batch_idx, 'fungrad');
		for m = 1 : L
			gW = net.dlossdW{m}/bsize + model.weight{m}/param.C;
			gb = net.dlossdb{m}/bsize + model.bias{m}/param.C;
			vW{m} = param.momentum*vW{m} - lr*gW;
			vb{m} = param.momentum*vb{m} - lr*gb;
			model.weight{m} = model.weight{m} + vW{m};
			model.bias{m} = model.bias{m} + vb{m};
		end
		step = step + 1;
		lr = param.lr/(1 + param.decay*step);
	end
	[net, f] = fungrad_minibatch(prob, param, model, net, 'funonly');
	fprintf('epoch %d f: %.6e lr: %.3e\n', k, f, lr);
end
