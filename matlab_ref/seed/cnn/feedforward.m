function net = feedforward(data, param, model, net)
% net = feedforward(data, param, model, net)
%
% Forward pass (the gradient-calculation slides, eq. (3)). data is (d*a*b) x n (columns of
% prob.data). Conv layer m = 1..LC:
%   phiZ = phi(pad(Z{m})),  Z{m+1} = max(W{m}*phiZ + b{m}, 0)   (eq. 3)
%   then max pooling when wd_subimage_pool(m) > 1.
% After LC layers Z{LC+1} becomes (d*a*b) x n; fully-connected layers apply
% ReLU except the last, which is linear. Sets net.num_sampled_data, net.Z
% and net.idx_pool. One statement per line (the harness instruments it).

L = param.L;
LC = param.LC;
num_data = size(data, 2);
net.num_sampled_data = num_data;
net.Z{1} = reshape(data, model.ch_input(1), []);
for m = 1 : LC
	phiZ = padding_and_phiZ(model, net, m);
	net.Z{m+1} = max(model.weight{m}*phiZ + model.bias{m}, 0);
	if model.wd_subimage_pool(m) > 1
		[net.Z{m+1}, net.idx_pool{m}] = maxpooling(model, net, m);
	end
end
net.Z{LC+1} = reshape(net.Z{LC+1}, [], num_data);
for m = LC+1 : L-1
	net.Z{m+1} = max(model.weight{m}*net.Z{m} + model.bias{m}, 0);
end
net.Z{L+1} = model.weight{L}*net.Z{L} + model.bias{L};
