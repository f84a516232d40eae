function param = parse_options(options, l)
% param = parse_options(options, l)
%
% The defaults of the real cnn_train, then the '-name value' pairs of
% options, then C = C*l (l the number of instances; GNsize defaults to
% ceil(0.05*l)).  As the real code, the text is cut at spaces and every
% value goes through str2num: '-C 1/100' and '-C inf' are numbers, and no
% value is range-checked.  As there, Adam's learning rate defaults to 0.01
% (the real code sets 0.001 only while the solver is still its default),
% and there is no -seed (the seed is cnn_train's 7th argument).  Refused
% with a message where the real code would fail later: a value str2num
% cannot read, and counts that are not integers (-s 1..3, -bsize, -GNsize,
% -CGmax >= 1, -iter_max, -epoch_max >= 0).
%
% Options (defaults): -s 1 (1 Newton, 2 SGD, 3 Adam), -C 0.01, -bsize
% (1024 for Newton, else 128), -GNsize ceil(0.05*l), -iter_max 100, -xi
% 0.1, -CGmax 250, -lambda 1, -drop 2/3, -boost 3/2, -eta 1e-4, -Jacobian
% 1 (non-zero: stored Jacobian), -epoch_max 500, -lr 0.01, -decay 0 (SGD
% only), -momentum 0, -ftype 1 (0 single, 1 double), -gpu_use 0.
% Without l (the earlier form, kept for the benchmarks): GNsize is [] and C
% is not multiplied.

if nargin < 2
    l = [];
end
param = struct('solver', 1, 'C', 0.01, 'bsize', [], 'GNsize', ceil(0.05*l), 'iter_max', 100, ...
               'xi', 0.1, 'CGmax', 250, 'lambda', 1, 'drop', 2/3, 'boost', 3/2, 'eta', 1e-4, ...
               'Jacobian', true, 'epoch_max', 500, 'lr', 0.01, 'decay', 0, 'momentum', 0, ...
               'ftype', 1, 'gpu_use', 0);
options = strtrim(options);
if ~isempty(options)
    tokens = strsplit(options, ' ');
    tokens = tokens(~cellfun(@isempty, tokens));
    if mod(numel(tokens), 2) == 1
        error('cnn_train: each option is a name and a value');
    end
    for t = 1 : 2 : numel(tokens)
        name = tokens{t};
        value = str2num(tokens{t+1});
        if isempty(value) || numel(value) ~= 1
            error('cnn_train: option %s: ''%s'' is not a number', name, tokens{t+1});
        end
        switch name
            case '-s'
                param.solver = count(value, name, 1);
                if param.solver > 3
                    error('cnn_train: option -s must be 1 (Newton), 2 (SGD) or 3 (Adam)');
                end
            case '-GNsize'
                param.GNsize = count(value, name, 1);
            case '-iter_max'
                param.iter_max = count(value, name, 0);
            case '-CGmax'
                param.CGmax = count(value, name, 1);
            case '-bsize'
                param.bsize = count(value, name, 1);
            case '-epoch_max'
                param.epoch_max = count(value, name, 0);
            case {'-C', '-xi', '-lambda', '-drop', '-boost', '-eta', '-lr', '-decay', '-momentum'}
                param.(name(2:end)) = value;
            case '-Jacobian'
                param.Jacobian = logical(value);
            case '-ftype'
                if value ~= 0 && value ~= 1
                    error('cnn_train: option -ftype must be 0 (single) or 1 (double)');
                end
                param.ftype = value;
            case '-gpu_use'
                if logical(value)
                    error('cnn_train: -gpu_use 1: no GPU device is used by this reference');
                end
            otherwise
                error('cnn_train: %s is not a supported option', name);
        end
    end
end
if isempty(param.bsize)
    if param.solver == 1
        param.bsize = 1024;
    else
        param.bsize = 128;
    end
end
if ~isempty(l)
    param.C = param.C*l;
end
end

function v = count(v, name, lo)
if ~isfinite(v) || v ~= round(v) || v < lo
    error('cnn_train: option %s must be an integer >= %d', name, lo);
end
end
