function labels = predict(prob, param, model, net)
% labels = predict(prob, param, model, net)
%
% Forward pass in chunks of param.bsize (128 when absent); the predicted
% class of instance i is the index (1..nL) of the largest entry of Z{L+1}
% (first one on a tie), mapped back through prob.label_enum (the sorted
% label set) when prob has that field. A column vector of prob.l entries.

if isfield(param, 'bsize')
	bsize = param.bsize;
else
	bsize = 128;
end
labels = zeros(prob.l, 1);
for i = 1 : ceil(prob.l/bsize)
	range = (i-1)*bsize + 1 : min(prob.l, i*bsize);
	net = feedforward(prob.data(:, range), param, model, net);
	[~, p] = max(net.Z{param.L+1}, [], 1);
	labels(range) = p;
end
if isfield(prob, 'label_enum')
	labels = prob.label_enum(labels);
	labels = labels(:);
end
