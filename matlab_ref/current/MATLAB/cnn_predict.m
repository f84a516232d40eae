function [results, acc] = cnn_predict(y, Z, model, options)
% [results, acc] = cnn_predict(y, Z, model)
% [results, acc] = cnn_predict(y, Z, model, '-bsize N')
%
% Our reference for the real cnn_predict (current layout; simpleNN, BSD-3,
% C.-C. Wang, K. L. Tan, C.-J. Lin).  The predicted labels (a column) of the
% instances (y, Z) and the accuracy sum(results == y)/length(y).  The only
% option is -bsize (default 128).  As the real code, the labels of y must
% take exactly nL distinct values (its check_data is the training one).
% A model saved by an earlier version of this reference (label_enum
% instead of labels) is read too.

if nargin < 4
    options = '';
end
here = fileparts(mfilename('fullpath'));
addpath(fullfile(here, 'cnn'), fullfile(here, 'opt'));

global gpu_use float_type
gpu_use = false;
if isfield(model, 'float_type')
    float_type = model.float_type;
end
if ~isfield(model, 'labels') && isfield(model, 'label_enum')
    model.labels = model.label_enum;
end

param = struct('bsize', 128);
options = strtrim(options);
if ~isempty(options)
    tokens = strsplit(options, ' ');
    tokens = tokens(~cellfun(@isempty, tokens));
    if mod(numel(tokens), 2) == 1
        error('cnn_predict: each option is a name and a value');
    end
    for t = 1 : 2 : numel(tokens)
        if ~strcmp(tokens{t}, '-bsize')
            error('cnn_predict: %s is not a supported option', tokens{t});
        end
        param.bsize = str2num(tokens{t+1});
    end
end
if numel(unique(y)) ~= model.nL
    error('cnn_predict: y has %d distinct labels but the last layer has nL = %d outputs', numel(unique(y)), model.nL);
end
prob = check_data(y, Z, model);
net = init_net(model, param);
results = predict(prob, param, model, net);
acc = sum(results == prob.y)/numel(prob.y);
end
