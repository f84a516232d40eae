function model = cnn_train(y, Z, config_file, options)
% model = cnn_train(y, Z, config_file, options)
%
% Train a CNN on labels y (l x 1, any values; mapped to 1..nL through the
% sorted label set) and instances Z (l x a*b*d, see check_data) with the
% configuration file config_file. options is a string of '-name value'
% pairs (the current layout's options, matlab_ref/current/MATLAB/opt/parse_options.m):
%   -s        solver: 2 SGD with momentum, 3 Adam (1, Newton, is not part of
%             this seed-layout reference: use the current-layout tree)
%   -C        regularization constant (0.01); multiplied by l before training
%   -bsize    mini-batch size (128)
%   -epoch_max (500)  -lr (0.01; 0.001 for Adam)  -decay (0)  -momentum (0)
%   -seed     (our addition) seeds rand and randn with rand('state', seed)
%             and randn('state', seed) before the weights are drawn
% The Newton options (-GNsize -iter_max -xi -CGmax -lambda -drop -boost -eta
% -Jacobian -SR -num_splits) and -ftype, -gpu_use are accepted and ignored.
% An odd number of tokens or an unknown name is an error.
% The returned model also holds model.label_enum, the sorted label set.

if nargin < 4
	options = '';
end
here = fileparts(mfilename('fullpath'));
addpath(fullfile(here, 'cnn'), fullfile(here, 'opt'));

param = read_config(config_file);
param = parse_options(param, options);

if param.solver == 1
	error('cnn_train: -s 1 (Newton) is not available in the seed-layout reference; use -s 2 (SGD) or -s 3 (Adam)');
end
if isfield(param, 'seed')
	rand('state', param.seed);
	randn('state', param.seed);
end

[label_enum, ~, y_mapped] = unique(y(:));
if numel(label_enum) > param.nL
	error('cnn_train: %d distinct labels but the network has nL = %d outputs', numel(label_enum), param.nL);
end
prob.y = y_mapped;
prob.Z = Z;
prob = check_data(prob, param);
param.C = param.C*prob.l;

model = init_model(param);
model.label_enum = label_enum;
net = init_net(param, model);
if param.solver == 2
	[model, net] = sgd(prob, param, model, net);
else
	[model, net] = adam(prob, param, model, net);
end
end

function param = parse_options(param, options)
% defaults of the current layout's parse_options.m, then the '-name value' pairs of options
tokens = regexp(options, '\S+', 'match');
if mod(numel(tokens), 2) ~= 0
	error('cnn_train: options must be -name value pairs (odd number of tokens in ''%s'')', options);
end
names = {'s', 'C', 'bsize', 'GNsize', 'iter_max', 'xi', 'CGmax', 'lambda', 'drop', ...
	'boost', 'eta', 'Jacobian', 'epoch_max', 'lr', 'decay', 'momentum', 'ftype', ...
	'gpu_use', 'SR', 'num_splits', 'seed'};
given = struct();
for k = 1 : 2 : numel(tokens)
	name = tokens{k};
	if numel(name) < 2 || name(1) ~= '-' || ~any(strcmp(name(2:end), names))
		error('cnn_train: unknown option %s', name);
	end
	value = str2double(tokens{k+1});
	if isnan(value)
		error('cnn_train: option %s needs a numeric value, not %s', name, tokens{k+1});
	end
	given.(name(2:end)) = value;
end

param.solver = 1;
if isfield(given, 's')
	param.solver = given.s;
	given = rmfield(given, 's');
end
if ~any(param.solver == [1 2 3])
	error('cnn_train: -s must be 1 (Newton), 2 (SGD) or 3 (Adam)');
end
param.C = 0.01;
if param.solver == 1
	param.bsize = 1024;
else
	param.bsize = 128;
end
param.epoch_max = 500;
if param.solver == 3
	param.lr = 0.001;
else
	param.lr = 0.01;
end
param.decay = 0;
param.momentum = 0;
fields = fieldnames(given);
for k = 1 : numel(fields)
	param.(fields{k}) = given.(fields{k});
end
if param.C <= 0 || param.bsize < 1 || param.bsize ~= round(param.bsize) || param.epoch_max < 0
	error('cnn_train: -C must be > 0, -bsize a positive integer and -epoch_max >= 0');
end
end
