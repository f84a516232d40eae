function model = init_model(param)
% model = init_model(param)
%
% Sizes of every layer and He-initialised weights (the sizes of the slides' eq. (3)).
% For conv layer m = 1..LC:
%   ht_pad(m)  = ht_input(m) + 2*wd_pad_added(m)             (same for wd)
%   ht_conv(m) = floor((ht_pad(m) - wd_filter(m))/strides(m)) + 1
%   ht_input(m+1) = floor(ht_conv(m)/wd_subimage_pool(m))
% weight{m} is ch_input(m+1) x (wd_filter(m)^2*ch_input(m)) for conv layers
% and n_m x n_{m-1} for fully-connected layers; weights are drawn in the
% order m = 1..L by randn(out, fan_in)*sqrt(2/fan_in), biases are zeros.
% var_ptr = [1; cumsum(var_num) + 1], var_num(m) = numel(W{m}) + numel(b{m}).

L = param.L;
LC = param.LC;
model.L = L;
model.LC = LC;
model.LF = L - LC;
model.nL = param.full_neurons(end);

model.ch_input = param.ch_input(:)';
model.wd_pad_added = param.wd_pad_added(:)';
model.wd_filter = param.wd_filter(:)';
model.strides = param.strides(:)';
model.wd_subimage_pool = param.wd_subimage_pool(:)';
model.full_neurons = param.full_neurons(:)';

model.ht_input = zeros(1, LC+1);
model.wd_input = zeros(1, LC+1);
model.ht_pad = zeros(1, LC);
model.wd_pad = zeros(1, LC);
model.ht_conv = zeros(1, LC);
model.wd_conv = zeros(1, LC);
model.ht_input(1) = param.ht_input;
model.wd_input(1) = param.wd_input;
for m = 1 : LC
	model.ht_pad(m) = model.ht_input(m) + 2*model.wd_pad_added(m);
	model.wd_pad(m) = model.wd_input(m) + 2*model.wd_pad_added(m);
	model.ht_conv(m) = floor((model.ht_pad(m) - model.wd_filter(m))/model.strides(m)) + 1;
	model.wd_conv(m) = floor((model.wd_pad(m) - model.wd_filter(m))/model.strides(m)) + 1;
	model.ht_input(m+1) = floor(model.ht_conv(m)/model.wd_subimage_pool(m));
	model.wd_input(m+1) = floor(model.wd_conv(m)/model.wd_subimage_pool(m));
	if model.ht_conv(m) < 1 || model.wd_conv(m) < 1 || model.ht_input(m+1) < 1 || model.wd_input(m+1) < 1
		error('init_model: layer %d has an empty output (%d x %d after convolution, %d x %d after pooling)', ...
			m, model.ht_conv(m), model.wd_conv(m), model.ht_input(m+1), model.wd_input(m+1));
	end
end

% neurons of the fully-connected layers; n(LC+1) is the flattened conv output
n = zeros(1, L+1);
n(LC+1) = model.ht_input(LC+1)*model.wd_input(LC+1)*model.ch_input(LC+1);
n(LC+2:L+1) = model.full_neurons;

model.weight = cell(L, 1);
model.bias = cell(L, 1);
var_num = zeros(L, 1);
for m = 1 : L
	if m <= LC
		fan_in = model.wd_filter(m)*model.wd_filter(m)*model.ch_input(m);
		fan_out = model.ch_input(m+1);
	else
		fan_in = n(m);
		fan_out = n(m+1);
	end
	model.weight{m} = randn(fan_out, fan_in)*sqrt(2/fan_in);
	model.bias{m} = zeros(fan_out, 1);
	var_num(m) = fan_out*fan_in + fan_out;
end
model.var_ptr = [1; cumsum(var_num) + 1];
