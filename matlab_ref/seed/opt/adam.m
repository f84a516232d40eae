function [model, net] = adam(prob, param, model, net)
% [model, net] = adam(prob, param, model, net)
%
% Adam as the seed layout trains (-s 3): beta1 = 0.9, beta2 = 0.999,
% epsilon = 1e-8 and a FIXED step size 1e-3 (-lr is not read); param.iter_max
% epochs (not -epoch_max) of ceil(l/bsize) steps on bsize distinct random
% instances (randperm(l, bsize): the seed's randsample draw). Per layer, on
% g = [vec(W{m}); b{m}]/C + [vec(dlossdW{m}); dlossdb{m}]/bsize:
%   M = beta1*M + (1-beta1)*g,  V = beta2*V + (1-beta2)*g.^2
%   [W b] -= 1e-3 * (M/(1-beta1^k)) ./ (sqrt(V/(1-beta2^k)) + epsilon)
% with k the EPOCH counter (a quirk of the original, kept). After each
% epoch: k-epoch loss: .. (the last step's loss over bsize).

L = param.L;
bsize = param.bsize;
beta1 = 0.9;
beta2 = 0.999;
epsilon = 1e-8;
step_size = 1e-3;
M = cell(L, 1);
V = cell(L, 1);
for m = 1 : L
	M{m} = zeros(numel(model.weight{m}) + numel(model.bias{m}), 1);
	V{m} = M{m};
end
for k = 1 : param.iter_max
	for j = 1 : ceil(prob.l/bsize)
		batch_idx = randperm(prob.l, bsize)';
		[net, loss] = lossgrad_subset(prob, param, model, net, batch_idx, 'fungrad');
		for m = 1 : L
			nw = numel(model.weight{m});
			g = [model.weight{m}(:); model.bias{m}]/param.C + [net.dlossdW{m}(:); net.dlossdb{m}]/bsize;
			M{m} = beta1*M{m} + (1 - beta1)*g;
			V{m} = beta2*V{m} + (1 - beta2)*(g.*g);
			Mh = M{m}/(1 - beta1^k);
			Vh = V{m}/(1 - beta2^k);
			u = Mh./(sqrt(Vh) + epsilon);
			model.weight{m} = model.weight{m} - step_size*reshape(u(1:nw), size(model.weight{m}, 1), []);
			model.bias{m} = model.bias{m} - step_size*u(nw+1:end);
		end
	end
	fprintf('%d-epoch loss: %g\n', k, loss/bsize);
end
model.param = param;
