function [model, net] = adam(prob, param, model, net)
% [model, net] = adam(prob, param, model, net)
%
% Adam (beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8) with the stochastic
% gradient of sgd.m: per epoch ceil(l/bsize) steps on randperm(l, bsize),
%   g = [dlossdW dlossdb]/bsize + [W b]/C
%   mom = beta1*mom + (1-beta1)*g,  v = beta2*v + (1-beta2)*g.^2
%   [W b] -= lr * (mom/(1-beta1^k)) ./ (sqrt(v/(1-beta2^k)) + epsilon)
% Quirk of the original, reproduced on purpose: the bias correction uses the
% EPOCH counter k, not the step counter. The learning rate follows
% lr0/(1 + decay*step) as in sgd.m. After each epoch f on all data is printed.

L = param.L;
l = prob.l;
bsize = min(param.bsize, l);
beta1 = 0.9;
beta2 = 0.999;
epsilon = 1e-8;
lr = param.lr;
step = 0;
momW = cell(L, 1);
momb = cell(L, 1);
vW = cell(L, 1);
vb = cell(L, 1);
for m = 1 : L
	momW{m} = zeros(size(model.weight{m}));
	momb{m} = zeros(size(model.bias{m}));
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
			momW{m} = beta1*momW{m} + (1 - beta1)*gW;
			momb{m} = beta1*momb{m} + (1 - beta1)*gb;
			vW{m} = beta2*vW{m} + (1 - beta2)*gW.^2;
			vb{m} = beta2*vb{m} + (1 - beta2)*gb.^2;
			model.weight{m} = model.weight{m} - lr*(momW{m}/(1 - beta1^k))./(sqrt(vW{m}/(1 - beta2^k)) + epsilon);
			model.bias{m} = model.bias{m} - lr*(momb{m}/(1 - beta1^k))./(sqrt(vb{m}/(1 - beta2^k)) + epsilon);
		end
		step = step + 1;
		lr = param.lr/(1 + param.decay*step);
	end
	[net, f] = fungrad_minibatch(prob, param, model, net, 'funonly');
	fprintf('epoch %d f: %.6e lr: %.3e\n', k, f, lr);
end
