function labels = predict(prob, param, model, net)
% labels = predict(prob, param, model, net)
%
% The forward pass in batches of param.bsize instances; the predicted class
% of an instance is the row of the largest output (the first on a tie),
% mapped through model.labels (1..nL when the model has none).  labels is
% a column.

L = model.L;
out = zeros(model.nL, prob.l);
for i = 1 : ceil(prob.l/param.bsize)
    idx = (i-1)*param.bsize+1 : min(prob.l, i*param.bsize);
    net = feedforward(prob.data(:, idx), model, net);
    out(:, idx) = gather_if_gpu(net.Z{L+1});
end
[~, cls] = max(out, [], 1);
if isfield(model, 'labels') && ~isempty(model.labels)
    labels = model.labels(cls(:));
    labels = labels(:);
else
    labels = cls(:);
end
end

function x = gather_if_gpu(x)
if isa(x, 'gpuArray')
    x = gather(x);
end
end
