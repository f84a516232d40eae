function [net, f, grad] = fungrad_minibatch(prob, param, model, net, varargin)
% [net, f, grad] = fungrad_minibatch(prob, param, model, net, batch_idx, subsampled_batch, task)
% [net, f, grad] = fungrad_minibatch(prob, param, model, net, task)
%
% Function value (and, for task 'fungrad', gradient) of eqs. (1)-(2) on all
% prob.l instances, summing lossgrad_subset over groups of instances:
%   f = reg/(2C) + (sum of losses)/l,  reg = sum_m ||W{m}||_F^2 + ||b{m}||^2
%   grad.dfdW{m} = W{m}/C + (sum of dlossdW{m})/l   (grad.dfdb{m} likewise)
% param.C is the C of the objective (cnn_train has multiplied the user's -C
% by l already).
%
% Seed form (Newton): the groups are the cell array batch_idx (the splits of
% newton.m), visited in the order 1, 2, ... with the group subsampled_batch
% moved to the end, so that on return net holds that group's forward pass
% (newton.m takes its Gauss-Newton matrix from it). A group without any
% instance is skipped (it adds nothing). Short form: the groups are chunks
% of param.bsize consecutive instances.

if numel(varargin) == 3
	groups = varargin{1};
	last = varargin{2};
	task = varargin{3};
	order = 1 : numel(groups);
	order([last end]) = order([end last]);
	groups = groups(order);
elseif numel(varargin) == 1
	task = varargin{1};
	bsize = param.bsize;
	groups = cell(1, ceil(prob.l/bsize));
	for i = 1 : numel(groups)
		groups{i} = (i-1)*bsize + 1 : min(prob.l, i*bsize);
	end
else
	error('fungrad_minibatch: expected (prob, param, model, net, task) or (..., batch_idx, subsampled_batch, task)');
end

L = param.L;
l = prob.l;
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
for i = 1 : numel(groups)
	if isempty(groups{i})
		continue;
	end
	[net, loss] = lossgrad_subset(prob, param, model, net, groups{i}, task);
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
