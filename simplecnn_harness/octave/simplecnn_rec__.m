function simplecnn_rec__(id, v, layer, keep)
% simplecnn_rec__(id, v, layer, keep): the harness's recorder.
%
% The instrumented copy of a MATLAB tree calls it after each assignment:
% id numbers the statement, v is the assigned value, layer the loop variable
% (0 outside loops) and keep is 1 when the values are wanted, 0 when only
% class and size are. Values are appended with fwrite to OUT/records.bin and
% one line per call goes to OUT/records.idx:
%   name layer class offset nbytes ndims dim1 dim2 ...
% (name is s<id> for a statement, or a name given by 'put').
%
% Control calls:
%   simplecnn_rec__('open', OUT)          start recording into folder OUT
%   simplecnn_rec__('put', NAME, v, layer) record v under NAME (always kept)
%   simplecnn_rec__('close')              close the files
% When not open, a call does nothing. It has no output, so ans is untouched.

persistent fid_bin fid_idx offset
if ischar(id)
	switch id
		case 'open'
			folder = v;
			fid_bin = fopen(fullfile(folder, 'records.bin'), 'w');
			fid_idx = fopen(fullfile(folder, 'records.idx'), 'w');
			offset = 0;
		case 'close'
			if ~isempty(fid_bin)
				fclose(fid_bin);
				fclose(fid_idx);
			end
			fid_bin = [];
			fid_idx = [];
		case 'put'
			name = v;
			value = layer;
			put_layer = keep;
			if ~isempty(fid_bin)
				offset = simplecnn_rec_write__(fid_bin, fid_idx, offset, name, value, put_layer, 1);
			end
	end
	return;
end
if isempty(fid_bin)
	return;
end
offset = simplecnn_rec_write__(fid_bin, fid_idx, offset, sprintf('s%d', id), v, layer, keep);
end

function offset = simplecnn_rec_write__(fid_bin, fid_idx, offset, name, v, layer, keep)
if ~isnumeric(layer) || numel(layer) ~= 1
	layer = -1;
end
cls = class(v);
nbytes = 0;
if keep && (isnumeric(v) || islogical(v)) && isreal(v)
	if issparse(v)
		v = full(v);
		cls = class(v);
	end
	if islogical(v)
		nbytes = fwrite(fid_bin, v, 'uint8');
		cls = 'logical';
	else
		nbytes = fwrite(fid_bin, v, cls)*simplecnn_rec_size__(cls);
	end
elseif issparse(v)
	cls = ['sparse_' cls];
end
sz = size(v);
fprintf(fid_idx, '%s %.17g %s %d %d %d', name, double(layer), cls, offset, nbytes, numel(sz));
fprintf(fid_idx, ' %d', sz);
fprintf(fid_idx, '\n');
offset = offset + nbytes;
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
