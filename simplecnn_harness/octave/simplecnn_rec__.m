function simplecnn_rec__(id, v, layer, keep)
% simplecnn_rec__(id, v, layer, keep): the harness's recorder.
%
% The instrumented copy of a MATLAB tree calls it after each assignment:
% id numbers the statement, v is the assigned value, layer the loop variable
% (0 outside loops) and keep is 1 when the values are wanted, 0 when only
% class and size are. One line per call goes to OUT/records.idx:
%   name layer class file nbytes ndims dim1 dim2 ...
% (name is s<id> for a statement, or a name given by 'put'), and the values
% of a kept record go to OUT/<file> in Octave's binary format (save
% -binary: a short header, then the raw column-major data; about three
% times faster than fwrite for big arrays).
%
% Control calls:
%   simplecnn_rec__('open', OUT)          start recording into folder OUT
%   simplecnn_rec__('put', NAME, v, layer) record v under NAME (always kept)
%   simplecnn_rec__('close')              close the files
%   simplecnn_rec__('only', KEYS)         from now on keep the values of the
%                                         records named in the cellstr KEYS
%                                         only ('NAME@LAYER', the layer as
%                                         %.17g prints it); the others get
%                                         class and size; {} keeps all again
% When not open, a call does nothing. It has no output, so ans is untouched.

persistent folder fid_idx count only
if ischar(id)
	switch id
		case 'only'
			if isempty(v)
				only = [];
			else
				only = containers.Map(v, true(1, numel(v)));
			end
		case 'open'
			folder = v;
			fid_idx = fopen(fullfile(folder, 'records.idx'), 'w');
			count = 0;
		case 'close'
			if ~isempty(fid_idx)
				fclose(fid_idx);
			end
			fid_idx = [];
		case 'put'
			name = v;
			value = layer;
			put_layer = keep;
			if ~isempty(fid_idx)
				count = count + 1;
				simplecnn_rec_write__(folder, fid_idx, count, name, value, put_layer, 1, only);
			end
	end
	return;
end
if isempty(fid_idx)
	return;
end
count = count + 1;
simplecnn_rec_write__(folder, fid_idx, count, sprintf('s%d', id), v, layer, keep, only);
end

function simplecnn_rec_write__(folder, fid_idx, count, name, v, layer, keep, only)
if ~isnumeric(layer) || numel(layer) ~= 1
	layer = -1;
end
if keep && ~isempty(only) && ~isKey(only, sprintf('%s@%.17g', name, double(layer)))
	keep = 0;
end
cls = class(v);
file = '-';
nbytes = 0;
if keep && (isnumeric(v) || islogical(v)) && isreal(v)
	if issparse(v)
		v = full(v);
	end
	file = sprintf('r%06d.bin', count);
	save('-binary', fullfile(folder, file), 'v');
	nbytes = numel(v)*simplecnn_rec_size__(cls);
elseif issparse(v)
	cls = ['sparse_' cls];
end
sz = size(v);
fprintf(fid_idx, '%s %.17g %s %s %d %d', name, double(layer), cls, file, nbytes, numel(sz));
fprintf(fid_idx, ' %d', sz);
fprintf(fid_idx, '\n');
end

function n = simplecnn_rec_size__(cls)
switch cls
	case {'double', 'int64', 'uint64'}
		n = 8;
	case {'single', 'int32', 'uint32'}
		n = 4;
	case {'int16', 'uint16'}
		n = 2;
	otherwise
		n = 1;
end
end
