function param = read_config(config_file)
% param = read_config(config_file)
%
% Read a simpleNN configuration file: one MATLAB assignment per line
% (name = value;), lines starting with % are comments, blank lines allowed.
% As in the original code the value is evaluated with eval (this is the
% MATLAB reference; the Python port parses the file without executing it).
% Adds param.LF = L - LC when absent and param.nL = full_neurons(end).

fid = fopen(config_file, 'r');
if fid < 0
	error('%s: cannot open the configuration file', config_file);
end
param = struct();
line_no = 0;
while true
	line = fgetl(fid);
	if ~ischar(line)
		break;
	end
	line_no = line_no + 1;
	line = strtrim(line);
	if isempty(line) || line(1) == '%'
		continue;
	end
	tok = regexp(line, '^([A-Za-z]\w*)\s*=', 'tokens', 'once');
	if isempty(tok)
		fclose(fid);
		error('%s: line %d is not of the form name = value;', config_file, line_no);
	end
	eval(['param.' line ';']);
end
fclose(fid);

required = {'L', 'LC', 'ht_input', 'wd_input', 'ch_input', 'wd_pad_added', ...
	'wd_filter', 'strides', 'wd_subimage_pool', 'full_neurons'};
for k = 1 : numel(required)
	if ~isfield(param, required{k})
		error('%s: missing key %s', config_file, required{k});
	end
end
if ~isfield(param, 'LF')
	param.LF = param.L - param.LC;
end
if param.LF ~= param.L - param.LC || param.LF < 1 || param.LC < 1
	error('%s: L must equal LC + LF with LC >= 1 and LF >= 1', config_file);
end
if numel(param.ch_input) ~= param.LC + 1
	error('%s: ch_input must have LC+1 = %d entries', config_file, param.LC + 1);
end
per_conv = {'wd_pad_added', 'wd_filter', 'strides', 'wd_subimage_pool'};
for k = 1 : numel(per_conv)
	if numel(param.(per_conv{k})) ~= param.LC
		error('%s: %s must have LC = %d entries', config_file, per_conv{k}, param.LC);
	end
end
if numel(param.full_neurons) ~= param.LF
	error('%s: full_neurons must have LF = %d entries', config_file, param.LF);
end
param.nL = param.full_neurons(param.LF);
