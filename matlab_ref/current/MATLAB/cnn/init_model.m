function model = init_model(config)
% model = init_model(config)
%
% Layer sizes (those of the gradient-calculation slides, eq. (3)) and He-initialised weights.
%   for m = 1..LC:  ht_pad(m)  = ht_input(m) + 2*wd_pad_added(m)
%                   ht_conv(m) = floor((ht_pad(m) - wd_filter(m))/strides(m)) + 1
%                   ht_input(m+1) = floor(ht_conv(m)/wd_subimage_pool(m))
%   (the same for the widths).
%   weight{m}: ch_input(m+1) x (wd_filter(m)^2*ch_input(m)) for m <= LC,
%              n_m x n_{m-1} for m > LC, n_LC = ht_input(LC+1)*wd_input(LC+1)*ch_input(LC+1);
%   bias{m}: column of zeros.  Weights are drawn for m = 1..L in that order
%   as randn(out, fan_in)*sqrt(2/fan_in).
%   var_ptr = [1; cumsum(var_num) + 1], var_num(m) = numel(weight{m}) + numel(bias{m});
%   the flat parameter vector stacks vec([weight{m} bias{m}]) for m = 1..L.
% model.gpu_use and model.float_type copy the globals gpu_use, float_type.

global gpu_use float_type

keys = {'L', 'LC', 'ht_input', 'wd_input', 'ch_input', 'wd_pad_added', ...
        'wd_filter', 'strides', 'wd_subimage_pool', 'full_neurons'};
for k = 1 : numel(keys)
    if ~isfield(config, keys{k})
        error('init_model: the configuration has no %s', keys{k});
    end
end
L = check_count(config.L, 'L');
LC = check_count(config.LC, 'LC');
if LC < 1 || L <= LC
    error('init_model: need 1 <= LC < L (got L = %d, LC = %d)', L, LC);
end
LF = L - LC;
if isfield(config, 'LF') && (numel(config.LF) ~= 1 || config.LF ~= LF)
    error('init_model: LF must equal L - LC = %d', LF);
end
check_length(config.ht_input, 1, 'ht_input');
check_length(config.wd_input, 1, 'wd_input');
check_length(config.ch_input, LC+1, 'ch_input');
check_length(config.wd_pad_added, LC, 'wd_pad_added');
check_length(config.wd_filter, LC, 'wd_filter');
check_length(config.strides, LC, 'strides');
check_length(config.wd_subimage_pool, LC, 'wd_subimage_pool');
check_length(config.full_neurons, LF, 'full_neurons');
check_integers(config.ch_input, 1, 'ch_input');
check_integers(config.ht_input, 1, 'ht_input');
check_integers(config.wd_input, 1, 'wd_input');
check_integers(config.wd_pad_added, 0, 'wd_pad_added');
check_integers(config.wd_filter, 1, 'wd_filter');
check_integers(config.strides, 1, 'strides');
check_integers(config.wd_subimage_pool, 1, 'wd_subimage_pool');
check_integers(config.full_neurons, 1, 'full_neurons');

model = struct();
model.L = L;
model.LC = LC;
model.LF = LF;
model.nL = config.full_neurons(end);
model.ch_input = config.ch_input(:)';
model.wd_pad_added = config.wd_pad_added(:)';
model.wd_filter = config.wd_filter(:)';
model.strides = config.strides(:)';
model.wd_subimage_pool = config.wd_subimage_pool(:)';
model.full_neurons = config.full_neurons(:)';
model.ht_input = zeros(1, LC+1);
model.wd_input = zeros(1, LC+1);
model.ht_input(1) = config.ht_input;
model.wd_input(1) = config.wd_input;
model.ht_pad = zeros(1, LC);
model.wd_pad = zeros(1, LC);
model.ht_conv = zeros(1, LC);
model.wd_conv = zeros(1, LC);
for m = 1 : LC
    model.ht_pad(m) = model.ht_input(m) + 2*model.wd_pad_added(m);
    model.wd_pad(m) = model.wd_input(m) + 2*model.wd_pad_added(m);
    model.ht_conv(m) = floor((model.ht_pad(m) - model.wd_filter(m))/model.strides(m)) + 1;
    model.wd_conv(m) = floor((model.wd_pad(m) - model.wd_filter(m))/model.strides(m)) + 1;
    model.ht_input(m+1) = floor(model.ht_conv(m)/model.wd_subimage_pool(m));
    model.wd_input(m+1) = floor(model.wd_conv(m)/model.wd_subimage_pool(m));
    if model.ht_conv(m) < 1 || model.wd_conv(m) < 1 || model.ht_input(m+1) < 1 || model.wd_input(m+1) < 1
        error('init_model: layer %d: the image becomes empty (%d x %d after convolution, %d x %d after pooling)', ...
              m, model.ht_conv(m), model.wd_conv(m), model.ht_input(m+1), model.wd_input(m+1));
    end
end

model.gpu_use = ~isempty(gpu_use) && gpu_use;
if isempty(float_type)
    model.float_type = 'double';
else
    model.float_type = float_type;
end

model.weight = cell(L, 1);
model.bias = cell(L, 1);
var_num = zeros(L, 1);
n_prev = model.ht_input(LC+1)*model.wd_input(LC+1)*model.ch_input(LC+1);
for m = 1 : L
    if m <= LC
        n_out = model.ch_input(m+1);
        fan_in = model.wd_filter(m)^2*model.ch_input(m);
    else
        n_out = model.full_neurons(m-LC);
        fan_in = n_prev;
        n_prev = n_out;
    end
    model.weight{m} = gpu(ftype(randn(n_out, fan_in)*sqrt(2/fan_in)));
    model.bias{m} = gpu(ftype(zeros(n_out, 1)));
    var_num(m) = n_out*(fan_in + 1);
end
model.var_ptr = [1; cumsum(var_num) + 1];
end

function n = check_count(v, name)
if numel(v) ~= 1 || v ~= round(v) || v < 1
    error('init_model: %s must be one positive integer', name);
end
n = v;
end

function check_length(v, n, name)
if numel(v) ~= n
    error('init_model: %s must have %d value(s), it has %d', name, n, numel(v));
end
end

function check_integers(v, lowest, name)
if any(v ~= round(v)) || any(v < lowest)
    error('init_model: %s must hold integers >= %d', name, lowest);
end
end
