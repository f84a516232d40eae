function s = simplecnn_replay_call__(name, args)
% s = simplecnn_replay_call__(name, args): the call name(args{:}) as text.
parts = cell(1, numel(args));
for k = 1 : numel(args)
    a = args{k};
    if ischar(a)
        parts{k} = ['''' a ''''];
    elseif isnumeric(a) && isscalar(a)
        parts{k} = sprintf('%g', a);
    elseif isnumeric(a) && numel(a) <= 8
        parts{k} = ['[' sprintf('%g ', a(1:end-1)) sprintf('%g', a(end)) ']'];
    else
        parts{k} = sprintf('<%s %s>', class(a), mat2str(size(a)));
    end
end
s = [name '(' strjoin(parts, ', ') ')'];
end
