function [model, info] = cnn_train(y, Z, y_v, Z_v, config_file, options, seed)
% model = cnn_train(y, Z, y_v, Z_v, config_file)
% model = cnn_train(y, Z, y_v, Z_v, config_file, options)
% model = cnn_train(y, Z, y_v, Z_v, config_file, options, seed)
% [model, info] = cnn_train(...)
%
% Our reference for the real simpleNN cnn_train (current layout; simpleNN is
% BSD-3 licensed, by C.-C. Wang, K. L. Tan and C.-J. Lin), written for this
% project.  Trains the CNN of config_file on (y, Z): y holds l labels of any
% values, Z is l x (a*b*d) (see check_data).  y_v, Z_v: a validation set
% ([] for none); with one, every iteration/epoch prints val_acc and the
% model of the strictly best validation accuracy is returned.  options: a
% string of '-name value' pairs (parse_options).  seed: seeds rand and
% randn (Octave) or rng (MATLAB); without it the state is not reset.
%
% The model struct is the real code's: net_config (the config as read),
% gpu_use, float_type, the sizes of init_model, weight, bias, var_ptr, and
% labels (the sorted label set, unique(y)).
%
% As the real code, the number of distinct labels of y (and of y_v) must
% equal nL.  Where the real code would stop with an index error, this
% reference refuses first: Z sparse, -GNsize above l (Newton), -bsize above
% l (SGD, Adam).
% info (our addition): the full-precision values of the printed lines.

if nargin < 5 || nargin > 7
    error('cnn_train: usage: model = cnn_train(y, Z, y_v, Z_v, config_file [, options [, seed]])');
end
if nargin < 6
    options = '';
end
if nargin == 7
    if exist('OCTAVE_VERSION', 'builtin')
        rand('state', seed);
        randn('state', seed);
    else
        rng(seed);
    end
end
here = fileparts(mfilename('fullpath'));
addpath(fullfile(here, 'cnn'), fullfile(here, 'opt'));

global gpu_use float_type

param = parse_options(options, size(Z, 1));
gpu_use = false;
if param.ftype == 0
    float_type = 'single';
else
    float_type = 'double';
end

config = read_config(config_file);
nL = config.full_neurons(end);
check_input(y, Z, nL, 'the data');
has_valid = ~isempty(y_v) && ~isempty(Z_v);
if has_valid
    check_input(y_v, Z_v, nL, 'the validation data');
end
l = size(Z, 1);
if param.solver == 1 && param.GNsize > l
    error('cnn_train: -GNsize %d is larger than the %d instances', param.GNsize, l);
end
if param.solver ~= 1 && param.bsize > l
    error('cnn_train: -bsize %d is larger than the %d instances', param.bsize, l);
end

model = init_model(config);
model.net_config = config;
model.net_config.nL = nL;
model.gpu_use = gpu_use;
model.float_type = float_type;
prob = check_data(y, Z, model);
model.labels = prob.label_enum;
prob_v = [];
if has_valid
    prob_v = check_data(y_v, Z_v, model);
end
net = init_net(model, param);

switch param.solver
    case 1
        [model, info] = newton(prob, prob_v, param, model, net);
    case 2
        [model, info] = sgd(prob, prob_v, param, model, net);
    case 3
        [model, info] = adam(prob, prob_v, param, model, net);
end
end

function check_input(y, Z, nL, what)
% The checks of the real check_data: the label count, a dense Z.
if numel(unique(y)) ~= nL
    error('cnn_train: %s has %d distinct labels but the last layer has nL = %d outputs', what, numel(unique(y)), nL);
end
if issparse(Z)
    error('cnn_train: the feature matrix of %s must be dense', what);
end
end
