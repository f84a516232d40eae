function simplecnn_drive__(in_file, out_dir)
% simplecnn_drive__(in_file, out_dir): the harness's driver.
%
% Loads param, model, prob and opt from in_file (written by the harness with
% scipy), adds the fields that the tree's own read_config and init_model set
% and ours lack (ours win where both exist), calls the tree's own init_net
% and lossgrad_subset through the call statements the harness generated
% from their function lines (opt.init_net_call, opt.lossgrad_call: the
% arguments by name; task__ holds the gradient task string read from the
% tree, opt.task), and records through simplecnn_rec__ into out_dir: the loss,
% the time lossgrad_subset took, and the fields of the returned net (Z,
% phiZ, idx_pad, idx_phiZ, idx_pool, dlossdW, dlossdb). The instrumented
% statements of the tree record their own values meanwhile.
% An error is written to out_dir/error.txt: the step, Octave's message, and
% the stack (file, function, line per line) instead of being raised.

global gpu_use float_type
step = 'loading the inputs';
simplecnn_rec__('open', out_dir);
try
	S = load(in_file);
	opt = S.opt;
	param = S.param;
	model = S.model;
	prob = S.prob;
	gpu_use = false;
	float_type = opt.precision;
	if ~isempty(opt.config_file)
		% fields the tree's own read_config sets and we do not
		step = 'read_config';
		try
			tree_param = read_config(opt.config_file);
			names = fieldnames(tree_param);
			for k = 1 : numel(names)
				if ~isfield(param, names{k})
					param.(names{k}) = tree_param.(names{k});
				end
			end
		catch
		end
	end
	if ~isempty(opt.init_model_call)
		% fields the tree's own init_model sets and we do not (sizes and
		% weights stay ours)
		step = 'init_model';
		try
			eval(opt.init_model_call);
			names = fieldnames(tree_model);
			for k = 1 : numel(names)
				if ~isfield(model, names{k})
					model.(names{k}) = tree_model.(names{k});
				end
			end
		catch
		end
	end
	% fields every version of the current layout reads (set by its init_model)
	if ~isfield(model, 'gpu_use')
		model.gpu_use = false;
	end
	if ~isfield(model, 'float_type')
		model.float_type = opt.precision;
	end
	if ~isfield(model, 'like')
		model.like = zeros(1, 1, opt.precision);
	end
	if strcmp(opt.precision, 'single')
		for m = 1 : numel(model.weight)
			model.weight{m} = single(model.weight{m});
			model.bias{m} = single(model.bias{m});
		end
		prob.data = single(prob.data);
		prob.label_mat = single(prob.label_mat);
	end
	if isfield(opt, 'y_as_index') && opt.y_as_index
		prob.y = prob.y_mapped;
	end
	batch_idx = 1 : prob.l;
	task__ = opt.task;
	step = 'init_net';
	eval(opt.init_net_call);
	step = 'lossgrad_subset';
	outs = cell(1, opt.nout);
	repeats = 1;
	if isfield(opt, 'repeats')
		repeats = max(1, opt.repeats);
	end
	seconds = zeros(1, repeats);
	for rep = 1 : repeats
		t0 = tic;
		eval(opt.lossgrad_call);
		seconds(rep) = toc(t0);
	end
	step = 'reading the results';
	net = outs{opt.net_out};
	loss = outs{opt.loss_out};
	simplecnn_rec__('put', 'seconds', seconds, 0);
	simplecnn_rec__('put', 'loss', loss, 0);
	simplecnn_put_cells__(net, 'Z', 2);
	simplecnn_put_cells__(net, 'idx_pad');
	simplecnn_put_cells__(net, 'idx_phiZ');
	simplecnn_put_cells__(net, 'idx_pool');
	simplecnn_put_cells__(net, 'dlossdW');
	simplecnn_put_cells__(net, 'dlossdb');
	if opt.want_phiZ
		simplecnn_put_cells__(net, 'phiZ');
	end
catch err
	fid = fopen(fullfile(out_dir, 'error.txt'), 'w');
	fprintf(fid, '%s\n', step);
	fprintf(fid, '%s\n', strrep(err.message, sprintf('\n'), '<NL>'));
	for k = 1 : numel(err.stack)
		fprintf(fid, '%s\t%s\t%d\n', err.stack(k).file, err.stack(k).name, err.stack(k).line);
	end
	fclose(fid);
end
simplecnn_rec__('close');
end

function simplecnn_put_cells__(net, name, first)
% records net.(name){m}, m = first..end (net.Z{1} is the data itself)
if nargin < 3
	first = 1;
end
if ~isfield(net, name) || ~iscell(net.(name))
	return;
end
c = net.(name);
for m = first : numel(c)
	if ~isempty(c{m})
		simplecnn_rec__('put', ['net.' name], c{m}, m);
	end
end
end
