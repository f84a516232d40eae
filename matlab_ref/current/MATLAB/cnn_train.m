function [model, info] = cnn_train(y, Z, varargin)
% model = cnn_train(y, Z, config_file, options)
% model = cnn_train(y, Z, y_valid, Z_valid, config_file, options)
% [model, info] = cnn_train(...)
%
% Trains the CNN of config_file on the instances (y, Z) (simpleNN data: y
% l x 1 labels of any values, Z l x (a*b*d), see check_data) and returns
% the model struct: the sizes of init_model, weight{m}, bias{m}, var_ptr,
% gpu_use, float_type, and label_enum (the sorted label set, used by
% cnn_predict).  options is a string of '-name value' pairs (parse_options
% lists them all with their defaults; it may be omitted).  With a
% validation set, its accuracy is printed at the end as
%   fprintf('validation accuracy: %.15g\n', accuracy)
%
% Order of work (and of random draws):
%   1. options; the globals gpu_use and float_type ('single' if -ftype 0,
%      else 'double'); with -seed s: rand('state', s); randn('state', s).
%   2. read_config, init_model: weights m = 1..L, each randn(out, fan_in).
%   3. check_data; C = C*l; GNsize = ceil(0.05*l) unless given (at most l).
%   4. init_net(model, param); then newton (-s 1: randperm(l) for the
%      subsets), sgd (-s 2) or adam (-s 3) (randperm(l, bsize) per step).
% Printed lines: see newton.m (per iteration and 'total_#CG: N') and
% sgd.m / adam.m (per epoch).  info: see newton.m and sgd.m.

here = fileparts(mfilename('fullpath'));
addpath(fullfile(here, 'cnn'), fullfile(here, 'opt'));

global gpu_use float_type

options = '';
switch numel(varargin)
    case {1, 2}
        y_valid = [];
        Z_valid = [];
        config_file = varargin{1};
        if numel(varargin) == 2
            options = varargin{2};
        end
    case {3, 4}
        y_valid = varargin{1};
        Z_valid = varargin{2};
        config_file = varargin{3};
        if numel(varargin) == 4
            options = varargin{4};
        end
    otherwise
        error('cnn_train: usage: model = cnn_train(y, Z, [y_valid, Z_valid,] config_file [, options])');
end

param = parse_options(options);
if param.gpu_use && ~(exist('gpuDeviceCount') && gpuDeviceCount > 0)
    error('cnn_train: -gpu_use 1 needs MATLAB with a GPU');
end
gpu_use = param.gpu_use == 1;
if param.ftype == 0
    float_type = 'single';
else
    float_type = 'double';
end
if ~isempty(param.seed)
    rand('state', param.seed);
    randn('state', param.seed);
end

config = read_config(config_file);
model = init_model(config);
prob = check_data(y, Z, model);
model.label_enum = prob.label_enum;
param.C = param.C*prob.l;
if isempty(param.GNsize)
    param.GNsize = ceil(0.05*prob.l);
end
param.GNsize = min(param.GNsize, prob.l);
net = init_net(model, param);

switch param.solver
    case 1
        [model, info] = newton(prob, param, model, net);
    case 2
        [model, info] = sgd(prob, param, model, net);
    case 3
        [model, info] = adam(prob, param, model, net);
end

if ~isempty(y_valid)
    [~, accuracy] = cnn_predict(y_valid, Z_valid, model);
    fprintf('validation accuracy: %.15g\n', accuracy);
end
end
