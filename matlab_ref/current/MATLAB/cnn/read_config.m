function config = read_config(config_file)
% config = read_config(config_file)
%
% Reads a simpleNN configuration file: one assignment 'name = value;' per
% line, lines starting with '%' are comments, blank lines are allowed.
% Values are numbers or bracketed vectors such as [1,32,64,64].  Nothing is
% evaluated: a value that is not a plain list of numbers is an error.
%
% Returns a struct with the keys found (L, LC, LF, ht_input, wd_input,
% ch_input, wd_pad_added, wd_filter, strides, wd_subimage_pool,
% full_neurons), vectors as rows.  Sizes are checked by init_model.

fid = fopen(config_file, 'r');
if fid < 0
    error('read_config: %s: cannot open the file', config_file);
end
text = fread(fid, Inf, '*char')';
fclose(fid);

config = struct();
lines = regexp(text, '\r?\n', 'split');
for k = 1 : numel(lines)
    line = strtrim(lines{k});
    if isempty(line) || line(1) == '%'
        continue;
    end
    tok = regexp(line, '^([A-Za-z_]\w*)\s*=\s*(.*?)\s*;?\s*$', 'tokens', 'once');
    if isempty(tok)
        error('read_config: %s line %d: not an assignment ''name = value;''', config_file, k);
    end
    name = tok{1};
    value = parse_value(tok{2});
    if isempty(value)
        error('read_config: %s line %d: value of %s is not a list of numbers', config_file, k, name);
    end
    config.(name) = value;
end
end

function value = parse_value(s)
% A number or a bracketed list of numbers separated by commas or blanks;
% [] on anything else.
value = [];
s = strtrim(s);
if ~isempty(s) && s(1) == '['
    if s(end) ~= ']'
        return;
    end
    s = s(2:end-1);
end
parts = regexp(strtrim(s), '[\s,]+', 'split');
if isempty(parts) || (numel(parts) == 1 && isempty(parts{1}))
    return;
end
v = zeros(1, numel(parts));
for k = 1 : numel(parts)
    if isempty(regexp(parts{k}, '^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$', 'once'))
        return;
    end
    v(k) = str2double(parts{k});
end
value = v;
end
