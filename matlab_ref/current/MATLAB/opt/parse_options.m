function param = parse_options(options)
% param = parse_options(options)
%
% The training options of cnn_train, '-name value ...' pairs, and their
% defaults (facts page, section 7):
%   -s         solver: 1 Newton (default), 2 SGD with momentum, 3 Adam
%   -C         regularisation constant (0.01; cnn_train multiplies it by l)
%   -bsize     batch size (1024 for Newton on the CPU, else 128)
%   -GNsize    Gauss-Newton subset size (ceil(5% of l), set by cnn_train)
%   -iter_max  Newton iterations (100)
%   -xi        CG tolerance ratio, in (0, 1) (0.1)
%   -CGmax     CG steps at most (250)
%   -lambda    initial Levenberg-Marquardt damping (1)
%   -drop      lambda factor when ratio >= 0.75, in (0, 1) (2/3)
%   -boost     lambda factor when ratio < 0.25, > 1 (3/2)
%   -eta       line-search sufficient-decrease constant, in (0, 1) (1e-4)
%   -Jacobian  1: store the Jacobian (JTBJv), 0: R-operator (R_JTBJv) (1 on the CPU, 0 on a GPU)
%   -epoch_max SGD/Adam epochs (500)
%   -lr        learning rate (0.01; 0.001 for Adam)
%   -decay     learning-rate decay: lr/(1 + decay*step) (0)
%   -momentum  SGD momentum, in [0, 1) (0)
%   -ftype     0 single, 1 double (double on the CPU, single on a GPU)
%   -gpu_use   0 CPU (default), 1 GPU (MATLAB with a GPU only)
%   -seed      ours: seeds rand('state', seed) and randn('state', seed) (none)
% An odd number of tokens, an unknown name or a bad value is an error.
% Fields: solver, C, bsize, GNsize ([] until cnn_train sets it), iter_max,
% xi, CGmax, lambda, drop, boost, eta, Jacobian, epoch_max, lr, decay,
% momentum, ftype, gpu_use, seed ([] when not given).

if nargin < 1 || isempty(options)
    options = '';
end
if ~ischar(options)
    error('cnn_train: options must be a string such as ''-s 1 -C 0.01''');
end
tokens = regexp(strtrim(options), '\s+', 'split');
if numel(tokens) == 1 && isempty(tokens{1})
    tokens = {};
end
if mod(numel(tokens), 2) ~= 0
    error('cnn_train: options must come in ''-name value'' pairs (got %d tokens)', numel(tokens));
end

names = {'-s', '-C', '-bsize', '-GNsize', '-iter_max', '-xi', '-CGmax', '-lambda', '-drop', '-boost', '-eta', '-Jacobian', '-epoch_max', '-lr', '-decay', '-momentum', '-ftype', '-gpu_use', '-seed'};
given = struct();
for t = 1 : 2 : numel(tokens)
    name = tokens{t};
    if ~any(strcmp(name, names))
        error('cnn_train: unknown option %s', name);
    end
    value = str2double(tokens{t+1});
    if isnan(value) || ~isreal(value)
        error('cnn_train: option %s needs a number, not ''%s''', name, tokens{t+1});
    end
    given.(name(2:end)) = value;
end

param = struct();
param.solver = pick(given, 's', 1);
check(param.solver, 'integer', 1, 3, '-s');
param.gpu_use = pick(given, 'gpu_use', 0);
check(param.gpu_use, 'integer', 0, 1, '-gpu_use');
on_cpu = param.gpu_use == 0;
param.C = pick(given, 'C', 0.01);
check(param.C, 'positive', 0, Inf, '-C');
if param.solver == 1 && on_cpu
    param.bsize = pick(given, 'bsize', 1024);
else
    param.bsize = pick(given, 'bsize', 128);
end
check(param.bsize, 'integer', 1, Inf, '-bsize');
param.GNsize = pick(given, 'GNsize', []);
if ~isempty(param.GNsize)
    check(param.GNsize, 'integer', 1, Inf, '-GNsize');
end
param.iter_max = pick(given, 'iter_max', 100);
check(param.iter_max, 'integer', 0, Inf, '-iter_max');
param.xi = pick(given, 'xi', 0.1);
check(param.xi, 'open', 0, 1, '-xi');
param.CGmax = pick(given, 'CGmax', 250);
check(param.CGmax, 'integer', 1, Inf, '-CGmax');
param.lambda = pick(given, 'lambda', 1);
check(param.lambda, 'real', 0, Inf, '-lambda');
param.drop = pick(given, 'drop', 2/3);
check(param.drop, 'open', 0, 1, '-drop');
param.boost = pick(given, 'boost', 3/2);
check(param.boost, 'open', 1, Inf, '-boost');
param.eta = pick(given, 'eta', 1e-4);
check(param.eta, 'open', 0, 1, '-eta');
param.Jacobian = pick(given, 'Jacobian', double(on_cpu));
check(param.Jacobian, 'integer', 0, 1, '-Jacobian');
param.epoch_max = pick(given, 'epoch_max', 500);
check(param.epoch_max, 'integer', 0, Inf, '-epoch_max');
if param.solver == 3
    param.lr = pick(given, 'lr', 0.001);
else
    param.lr = pick(given, 'lr', 0.01);
end
check(param.lr, 'positive', 0, Inf, '-lr');
param.decay = pick(given, 'decay', 0);
check(param.decay, 'real', 0, Inf, '-decay');
param.momentum = pick(given, 'momentum', 0);
check(param.momentum, 'real', 0, 1, '-momentum');
if param.momentum >= 1
    error('cnn_train: option -momentum must be a number in [0, 1) (got %g)', param.momentum);
end
param.ftype = pick(given, 'ftype', double(on_cpu));
check(param.ftype, 'integer', 0, 1, '-ftype');
param.seed = pick(given, 'seed', []);
if ~isempty(param.seed)
    check(param.seed, 'integer', 0, Inf, '-seed');
end
end

function v = pick(given, name, default)
if isfield(given, name)
    v = given.(name);
else
    v = default;
end
end

function check(v, kind, lo, hi, name)
% kind 'integer': an integer in [lo, hi]; 'positive': > 0 and finite;
% 'open': in (lo, hi); 'real': a finite number in [lo, hi].
switch kind
    case 'integer'
        ok = v == round(v) && v >= lo && v <= hi;
        what = sprintf('an integer in [%g, %g]', lo, hi);
    case 'positive'
        ok = v > 0 && isfinite(v);
        what = 'a positive number';
    case 'open'
        ok = v > lo && v < hi;
        what = sprintf('a number in (%g, %g)', lo, hi);
    otherwise
        ok = isfinite(v) && v >= lo && v <= hi;
        what = sprintf('a number in [%g, %g]', lo, hi);
end
if ~ok
    error('cnn_train: option %s must be %s (got %g)', name, what, v);
end
end
