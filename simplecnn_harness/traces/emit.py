"""``simplecnn record --emit-script DIR``: a folder that records a trace in
MATLAB itself, with no Python there.

The folder holds what ``octave/prepare.py`` prepares for a live run (the
instrumented copy of the tree with its boundary wrappers, ``trace-code/``,
and the inputs, ``trace-in.mat``), the harness's driver and wrapper helper
(``harness/``), an in-memory recorder that MATLAB runs (the live one writes
Octave-only ``save -binary`` files), the trace's ``meta`` text and record
labels, and ``simplecnn_record_trace.m``: run in MATLAB it writes
``trace.mat`` with ``save -v7.3``; run in Octave (whose ``-v7.3`` is not
implemented) with ``save -hdf5``.  ``file.read_trace`` reads both, and
the trace is the one ``simplecnn record`` writes (tests/harness/traces/test_trace_emit.py).
"""
from __future__ import annotations

import shutil
from pathlib import Path

from simplecnn_py.support.errors import InputError

from ..octave.quoting import literal
from ..octave.session import OCTAVE_HELPERS

DRIVER = "simplecnn_record_trace.m"
TAG = "trace"


def emit_script(opts, folder) -> dict:
    """Write the standalone recording folder ``folder`` (new or empty)."""
    from .. import inputs as loader
    from ..octave.layouts import detect_layout

    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise InputError("--emit-script", f"{folder} exists and is not an empty folder")
    tree = Path(opts.matlab_dir) if opts.matlab_dir else loader.default_tree()
    layout = detect_layout(tree)
    ins = loader.load(opts.config, opts.data, opts.weights, opts.instances, opts.precision, opts.seed,
                      budget=loader.MEMORY_BUDGET, progress=opts.progress)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError("--emit-script", f"cannot create {folder} ({e.strerror})")
    folder = folder.resolve()
    try:
        _fill(folder, opts, layout, ins)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)      # no half-written folder
        raise
    return {"dir": str(folder), "driver": str(folder / DRIVER), "trace": str(folder / "trace.mat")}


def _fill(folder, opts, layout, ins):
    from ..octave.prepare import prepare_run
    from .record import build_meta, inputs_meta, label_table, tree_identity

    run = prepare_run(layout, ins.param, ins.model, ins.prob, ins.precision, folder, instrument=opts.instrument,
                      tag=TAG)
    dirs = [str(Path(d).relative_to(folder)).replace("\\", "/") for d in run.dirs] or [f"{TAG}-code"]
    run.out_dir.rmdir()
    harness = folder / "harness"
    harness.mkdir()
    for f in Path(OCTAVE_HELPERS).glob("*.m"):
        if f.name != "simplecnn_rec__.m":
            shutil.copyfile(f, harness / f.name)
    (harness / "simplecnn_rec__.m").write_text(RECORDER, encoding="utf-8")
    meta = build_meta(layout, tree_identity(layout.root), inputs_meta(ins), run.stmts)
    (folder / f"{TAG}-meta.json").write_text(meta, encoding="ascii")
    table = label_table(run.stmts)
    (folder / f"{TAG}-labels.txt").write_text(
        "".join(f"{k}\t{r}\t{d}\t{s}\n" for k, (r, d, s) in table.items()), encoding="utf-8")
    shutil.copyfile(ins.config, folder / f"{TAG}-config.txt")
    dir_list = ", ".join(literal(d) for d in dirs)
    (folder / DRIVER).write_text(DRIVER_TEXT.replace("@DIRS@", dir_list).replace("@TAG@", TAG),
                                 encoding="utf-8")


# The recorder of the emitted folder: the interface of octave/simplecnn_rec__.m
# (open, put, close, statement calls), values kept in memory; 'fetch' returns them.
RECORDER = r"""function varargout = simplecnn_rec__(id, v, layer, keep)
% simplecnn_rec__: the recorder of a standalone trace driver (simplecnn record
% --emit-script). The same calls as the harness's live recorder, which writes
% files with Octave's save -binary; this one keeps the values in memory so
% that MATLAB runs it too:
%   simplecnn_rec__('open', OUT)           start recording (OUT is not used)
%   simplecnn_rec__('put', NAME, v, layer) record v under NAME (always kept)
%   simplecnn_rec__('close')               stop recording
%   R = simplecnn_rec__('fetch')           what was recorded (a struct of cells)
%   simplecnn_rec__(ID, v, layer, keep)    statement ID assigned v (values
%                                          kept when keep is 1)
% Record k of a kept value is named r%06d of k, as the live recorder's file.

persistent is_open names layers classes dims values
if ischar(id)
	switch id
		case 'open'
			is_open = true;
			names = {};
			layers = [];
			classes = {};
			dims = {};
			values = {};
		case 'close'
			is_open = false;
		case 'put'
			if ~isempty(is_open) && is_open
				k = numel(names) + 1;
				[names{k}, layers(k), classes{k}, dims{k}, values{k}] = simplecnn_rec_one__(v, layer, keep, 1);
			end
		case 'fetch'
			varargout{1} = struct('name', {names}, 'layer', layers, 'cls', {classes}, 'dims', {dims}, ...
				'value', {values});
	end
	return;
end
if isempty(is_open) || ~is_open
	return;
end
k = numel(names) + 1;
[names{k}, layers(k), classes{k}, dims{k}, values{k}] = simplecnn_rec_one__(sprintf('s%d', id), v, layer, keep);
end

function [name, layer, cls, sz, value] = simplecnn_rec_one__(name, v, layer, keep)
if ~isnumeric(layer) || numel(layer) ~= 1
	layer = -1;
end
layer = double(layer);
cls = class(v);
value = [];
if keep && (isnumeric(v) || islogical(v)) && isreal(v)
	if issparse(v)
		v = full(v);
	end
	value = {v};
elseif issparse(v)
	cls = ['sparse_' cls];
end
sz = size(v);
end
"""

DRIVER_TEXT = r"""function simplecnn_record_trace(out_file)
% SIMPLECNN_RECORD_TRACE  Run the simpleNN tree of this folder and write its trace.
%   simplecnn_record_trace            writes trace.mat in this folder
%   simplecnn_record_trace(OUT_FILE)  writes OUT_FILE
% Written by "simplecnn record --emit-script" (simplecnn_py). No Python is
% needed: the instrumented copy of the tree (@TAG@-code), its inputs
% (@TAG@-in.mat) and the recorder (harness) are in this folder. MATLAB writes
% the trace with save -v7.3, Octave with save -hdf5; "simplecnn compare
% --trace OUT_FILE" reads either (docs/traces.md).

here = fileparts(mfilename('fullpath'));
if nargin < 1
	out_file = fullfile(here, 'trace.mat');
end
is_octave = exist('OCTAVE_VERSION', 'builtin') > 0;
code_dirs = {@DIRS@};
old_dir = pwd;
old_path = path;
restore = onCleanup(@() simplecnn_restore__(old_dir, old_path));
for k = numel(code_dirs) : -1 : 1
	addpath(fullfile(here, code_dirs{k}));
end
addpath(fullfile(here, 'harness'));

% the inputs, the config's path made this folder's
S = load(fullfile(here, '@TAG@-in.mat'));
in_file = fullfile(here, '@TAG@-in.mat');
if ~isempty(S.opt.config_file)
	S2 = S;
	S2.opt.config_file = fullfile(here, '@TAG@-config.txt');
	in_file = [tempname() '.mat'];
	if is_octave
		save('-v7', in_file, '-struct', 'S2');
	else
		save(in_file, '-struct', 'S2', '-v7');
	end
end
out_dir = tempname();
mkdir(out_dir);
cd(fullfile(here, '@TAG@-code'));
simplecnn_drive__(in_file, out_dir);
cd(old_dir);
err_file = fullfile(out_dir, 'error.txt');
if exist(err_file, 'file')
	msg = fileread(err_file);
	error('simplecnn:record', 'the tree failed: %s', strrep(msg, sprintf('\n'), ' | '));
end
R = simplecnn_rec__('fetch');

T = struct();
T.simplecnn_trace = 'simplecnn-trace/1';
T.meta = fileread(fullfile(here, '@TAG@-meta.json'));
if is_octave
	T.engine = ['Octave ' OCTAVE_VERSION];
else
	T.engine = ['MATLAB ' version];
end
for m = 1 : numel(S.model.weight)
	T.(sprintf('in_weight_%d', m)) = S.model.weight{m};
	T.(sprintf('in_bias_%d', m)) = S.model.bias{m};
end
T.in_data = S.prob.data;
T.in_y = S.prob.y;
T.in_y_mapped = S.prob.y_mapped;
T.in_label_enum = S.prob.label_enum;
T.in_label_mat = S.prob.label_mat;

labels = simplecnn_labels__(fullfile(here, '@TAG@-labels.txt'));
lines = {};
layers = zeros(1, 0);
for k = 1 : numel(R.name)
	name = R.name{k};
	if strcmp(name, 'seconds')
		T.lossgrad_seconds = R.value{k}{1};
		continue;
	end
	var = '-';
	if ~isempty(R.value{k})
		var = sprintf('r%06d', k);
		T.(var) = R.value{k}{1};
	end
	dims = strtrim(sprintf('%d ', R.dims{k}));
	lines{end + 1} = sprintf('%s\t%s\t%s\t%s\t%s\n', name, R.cls{k}, var, dims, ...
		simplecnn_label_of__(labels, name));
	layers(end + 1) = R.layer(k);
end
T.rec_index = [lines{:}];
T.rec_layer = layers;

tmp = [out_file '.tmp'];
if is_octave
	save('-hdf5', tmp, '-struct', 'T');
else
	save(tmp, '-struct', 'T', '-v7.3');
end
movefile(tmp, out_file, 'f');
fprintf('simplecnn_record_trace: wrote %s (%d records)\n', out_file, numel(lines));
end

function labels = simplecnn_labels__(file)
labels = containers.Map();
text = fileread(file);
rows = regexp(text, '\n', 'split');
for k = 1 : numel(rows)
	if isempty(rows{k})
		continue;
	end
	tab = find(rows{k} == sprintf('\t'), 1);
	labels(rows{k}(1 : tab - 1)) = rows{k}(tab + 1 : end);
end
end

function label = simplecnn_label_of__(labels, name)
if isKey(labels, name)
	label = labels(name);
elseif strncmp(name, 'b:', 2)
	parts = regexp(name, ':', 'split');
	if isKey(labels, ['b:' parts{2}])
		label = labels(['b:' parts{2}]);
	else
		label = sprintf('%s\t-\tboundary', parts{2});
	end
else
	label = sprintf('-\t-\t-');
end
end

function simplecnn_restore__(old_dir, old_path)
cd(old_dir);
path(old_path);
end
"""
