function [labels, accuracy] = cnn_predict(y, Z, model)
% [labels, accuracy] = cnn_predict(y, Z, model)
%
% Predicted labels of the instances (y, Z) (check_data's format): the
% argmax of Z{L+1} per instance (the first maximum on a tie), mapped back
% through the sorted label set model.label_enum (1..nL when the model has
% none); accuracy = mean(labels == y).  The globals gpu_use and float_type
% are set from model.gpu_use and model.float_type.  The forward pass runs
% in chunks of 128 instances.

here = fileparts(mfilename('fullpath'));
addpath(fullfile(here, 'cnn'), fullfile(here, 'opt'));

global gpu_use float_type
if isfield(model, 'gpu_use')
    gpu_use = model.gpu_use;
end
if isfield(model, 'float_type')
    float_type = model.float_type;
end
if isfield(model, 'label_enum') && ~isempty(model.label_enum)
    label_enum = model.label_enum(:);
else
    label_enum = (1:model.nL)';
end

prob = check_data(y, Z, model);
param.bsize = 128;
net = init_net(model, param);
L = model.L;
pred = zeros(prob.l, 1);
for i = 1 : ceil(prob.l/param.bsize)
    idx = (i-1)*param.bsize+1 : min(prob.l, i*param.bsize);
    net = feedforward(prob.data(:, idx), model, net);
    [~, p] = max(net.Z{L+1}, [], 1);
    if isa(p, 'gpuArray')
        p = gather(p);
    end
    pred(idx) = p;
end
labels = label_enum(pred);
accuracy = mean(labels == prob.y);
end
