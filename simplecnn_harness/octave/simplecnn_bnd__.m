function simplecnn_bnd__(where, name, layer_pos, args, names, outs, which)
% simplecnn_bnd__(where, name, layer_pos, args, names, outs): records the
% boundary of a MATLAB routine that has a Python twin (called by the
% wrappers the harness writes in its copy of the tree).
%
% where is 'in' (args are the routine's inputs, names their names) or 'out'
% (outs are its outputs). On 'in' one line '@@simplecnn-routine NAME' is
% printed (the progress display reads it). The layer is the argument at
% layer_pos (0: none). Char arguments (vTP's operation) are appended to the
% record names: b:NAME:in:ARG:op and b:NAME:out:K:op. Only numeric and
% logical values are recorded (structs such as model and net are not), and
% of those only the positions in the bit mask which (-1: all; bit k-1 for
% position k).

layer = 0;
if layer_pos > 0 && layer_pos <= numel(args)
	v = args{layer_pos};
	if isnumeric(v) && numel(v) == 1
		layer = double(v);
	end
end
tag = '';
for k = 1 : numel(args)
	if ischar(args{k})
		tag = [tag ':' args{k}];
	end
end
if strcmp(where, 'in')
	fprintf('@@simplecnn-routine %s\n', name);
	for k = 1 : numel(args)
		v = args{k};
		if (isnumeric(v) || islogical(v)) && numel(v) > 1 && simplecnn_bnd_wanted__(which, k)
			if k <= numel(names)
				arg = names{k};
			else
				arg = sprintf('arg%d', k);
			end
			simplecnn_rec__('put', ['b:' name ':in:' arg tag], v, layer);
		end
	end
else
	for k = 1 : numel(outs)
		v = outs{k};
		if (isnumeric(v) || islogical(v)) && simplecnn_bnd_wanted__(which, k)
			simplecnn_rec__('put', sprintf('b:%s:out:%d%s', name, k, tag), v, layer);
		end
	end
end
end

function yes = simplecnn_bnd_wanted__(which, k)
yes = which < 0 || bitand(which, bitshift(1, k - 1)) > 0;
end
