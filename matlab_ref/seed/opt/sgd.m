function [model, net] = sgd(prob, param, model, net)
% [model, net] = sgd(prob, param, model, net)
%
% Stochastic gradient with momentum, as the seed layout trains (-s 2):
% param.epoch_max epochs of ceil(l/bsize) steps; a step takes bsize
% distinct instances at random (the seed draws randsample(l, bsize), which
% Octave lacks without its statistics package; randperm(l, bsize) is the
% same draw), the stochastic gradient
%   G{m} = [dlossdW{m} dlossdb{m}]/bsize + [W{m} b{m}]/C,
% v{m} = momentum*v{m} - lr*G{m}, [W{m} b{m}] += v{m}, and then
% lr = lr0/(1 + decay*step). After each epoch it prints the LAST step's
% loss over bsize: k-epoch loss/batch_size: ..

L = param.L;
bsize = param.bsize;
lr = param.lr;
v = cell(L, 1);
for m = 1 : L
	v{m} = zeros(size(model.weight{m}, 1), size(model.weight{m}, 2) + 1);
end
step = 1;
for k = 1 : param.epoch_max
	for j = 1 : ceil(prob.l/bsize)
		batch_idx = randperm(prob.l, bsize)';
		[net, loss] = lossgrad_subset(prob, param, model, net, batch_idx, 'fungrad');
		for m = 1 : L
			G = [net.dlossdW{m} net.dlossdb{m}]/bsize + [model.weight{m} model.bias{m}]/param.C;
			v{m} = param.momentum*v{m} - lr*G;
			model.weight{m} = model.weight{m} + v{m}(:, 1:end-1);
			model.bias{m} = model.bias{m} + v{m}(:, end);
		end
		lr = param.lr/(1 + param.decay*step);
		step = step + 1;
	end
	fprintf('%d-epoch loss/batch_size: %g\n', k, loss/bsize);
end
model.param = param;
