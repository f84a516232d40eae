function model = cnn_train(y, Z, config_file, options, seed)
% model = cnn_train(y, Z, config_file)
% model = cnn_train(y, Z, config_file, options)
% model = cnn_train(y, Z, config_file, options, seed)
%
% Train a CNN as the seed layout does, on labels y (l x 1) and instances Z
% (l x a*b*d, see check_data) with the configuration file config_file.
% seed, when given, seeds rand and randn ('state' form) before the weights
% are drawn. options is a string of '-name value' pairs, the seed's:
%   -s        solver: 1 Newton (default), 2 SGD with momentum, 3 Adam
%   -C        regularization constant (0.01), multiplied by l before training
%   Newton:   -SR (0.05: floor(1/SR) splits, one per Gauss-Newton matrix)
%             -iter_max (100) -xi (0.1) -CGmax (250) -lambda (1)
%             -drop (2/3) -boost (3/2) -eta (1e-4)
%   SGD:      -lr (0.01) -bsize (128) -decay (0) -momentum (0) -epoch_max (500)
%   Adam:     -bsize; its epochs are -iter_max, its step size is fixed (1e-3)
% An odd number of tokens, an unknown name or a value that is not a number
% is an error. Our additions (the seed has neither): -seed S (the same as
% the fifth argument), and any label values, mapped to 1..nL through the
% sorted label set and kept in model.label_enum.

if nargin < 3 || nargin > 5
	error('cnn_train: expected (y, Z, config_file[, options[, seed]])');
end
if nargin < 4
	options = '';
end
here = fileparts(mfilename('fullpath'));
addpath(fullfile(here, 'cnn'), fullfile(here, 'opt'));

param = read_config(config_file);
param = parse_options(param, options);
if nargin == 5
	param.seed = seed;
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
param.num_splits = floor(1/param.SR);

model = init_model(param);
model.label_enum = label_enum;
net = init_net(param, model);
switch param.solver
	case 1
		model = newton(prob, param, model, net);
	case 2
		model = sgd(prob, param, model, net);
	otherwise
		model = adam(prob, param, model, net);
end
model.label_enum = label_enum;
end

function param = parse_options(param, options)
% the seed's defaults, then the '-name value' pairs of options
param.solver = 1;
param.SR = 0.05;
param.iter_max = 100;
param.C = 0.01;
param.xi = 0.1;
param.CGmax = 250;
param.lambda = 1;
param.drop = 2/3;
param.boost = 3/2;
param.eta = 1e-4;
param.lr = 0.01;
param.decay = 0;
param.bsize = 128;
param.momentum = 0;
param.epoch_max = 500;

tokens = regexp(options, '\S+', 'match');
if mod(numel(tokens), 2) ~= 0
	error('cnn_train: options must be -name value pairs (odd number of tokens in ''%s'')', options);
end
for k = 1 : 2 : numel(tokens)
	value = str2double(tokens{k+1});
	if isnan(value)
		error('cnn_train: option %s needs a numeric value, not %s', tokens{k}, tokens{k+1});
	end
	switch tokens{k}
		case '-s'
			param.solver = value;
		case '-SR'
			param.SR = value;
		case '-iter_max'
			param.iter_max = value;
		case '-C'
			param.C = value;
		case '-xi'
			param.xi = value;
		case '-CGmax'
			param.CGmax = value;
		case '-lambda'
			param.lambda = value;
		case '-drop'
			param.drop = value;
		case '-boost'
			param.boost = value;
		case '-eta'
			param.eta = value;
		case '-lr'
			param.lr = value;
		case '-decay'
			param.decay = value;
		case '-bsize'
			param.bsize = value;
		case '-momentum'
			param.momentum = value;
		case '-epoch_max'
			param.epoch_max = value;
		case '-seed'
			param.seed = value;
		otherwise
			error('cnn_train: unknown option %s', tokens{k});
	end
end
if ~any(param.solver == [1 2 3])
	error('cnn_train: -s must be 1 (Newton), 2 (SGD) or 3 (Adam)');
end
if param.C <= 0 || param.bsize < 1 || param.bsize ~= round(param.bsize) || param.epoch_max < 0 ...
		|| param.iter_max < 0 || ~(param.SR > 0 && param.SR <= 1)
	error('cnn_train: -C must be > 0, -bsize a positive integer, -epoch_max and -iter_max >= 0, -SR in (0, 1]');
end
end
