function [net, loss] = lossgrad_subset(prob, model, net, batch_idx, task)
% [net, loss] = lossgrad_subset(prob, model, net, batch_idx, task)
%
% Loss of the instances batch_idx (1-based columns of prob.data) and, for
% task 'fungrad', the gradient of that loss:
%   loss = norm(Z{L+1} - Y, 'fro')^2, Y one-hot (nL x num_data) from prob.y_mapped;
%   v = 2*(Z{L+1} - Y) (slides: dxi/dz^{L+1}), [net.dlossdW, net.dlossdb] = JTv(model, net, v).
% task 'funonly' runs the forward pass only.
% One statement per line (the harness instruments it).

if ~strcmp(task, 'funonly') && ~strcmp(task, 'fungrad')
    error('lossgrad_subset: task must be ''funonly'' or ''fungrad'', not ''%s''', task);
end
L = model.L;
nL = model.nL;
num_data = numel(batch_idx);
Y = zeros(nL, num_data);
Y(reshape(prob.y_mapped(batch_idx), 1, []) + nL*(0:num_data-1)) = 1;
Y = gpu(ftype(Y));
net = feedforward(prob.data(:, batch_idx), model, net);
loss = norm(net.Z{L+1} - Y, 'fro')^2;
if strcmp(task, 'fungrad')
    v = 2*(net.Z{L+1} - Y);
    [net.dlossdW, net.dlossdb] = JTv(model, net, v);
end
end
