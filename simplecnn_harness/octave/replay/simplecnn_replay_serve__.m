function X = simplecnn_replay_serve__(kind, dims, cls, call)
% X = simplecnn_replay_serve__(kind, dims, cls, call)
%
% The next draw of kind ('randn', 'rand', 'randperm', ...) from the values
% the Python side drew (simplecnn_replay_load__), in the shape dims, filled
% column-major, cast to cls.  For randperm, dims is [n k] and X is 1 x k.
% call is the MATLAB call as text, for the messages.
%
% Strict replay (the default) checks that draw number d of this kind asks
% exactly the size the Python side's draw number d had; a lenient replay
% only checks that enough values remain.  Either way, asking for more than
% the Python side drew is an error: the two sides draw differently.
global simplecnn_replay__
B = simplecnn_replay__.(kind);
d = B.next_draw;
p = B.next_value;
n_draws = size(B.shapes, 1);
if strcmp(kind, 'randperm')
    count = dims(2);
    asked = dims;
    shape = [1 count];
else
    count = prod(dims);
    shape = dims;
    if numel(shape) > 2 && all(shape(3:end) == 1)
        shape = shape(1:2);
    end
    asked = shape;
end
if simplecnn_replay__.strict || strcmp(kind, 'randperm')
    if d > n_draws
        error('simplecnn:replay', ['replay divergence: the MATLAB side asks for %s draw #%d, %s, ' ...
              'but the Python side made only %d %s draw(s): the two sides draw differently'], ...
              kind, d, call, n_draws, kind);
    end
    want = B.shapes(d, :);
    if numel(asked) ~= 2 || any(asked ~= want)
        if strcmp(kind, 'randperm')
            if want(1) == want(2)
                py = sprintf('randperm(%d)', want(1));
            else
                py = sprintf('randperm(%d, %d)', want(1), want(2));
            end
        else
            py = sprintf('%s(%d, %d)', kind, want(1), want(2));
        end
        error('simplecnn:replay', ['replay divergence at %s draw #%d: the MATLAB side asks %s, ' ...
              'the Python side drew %s'], kind, d, call, py);
    end
elseif p + count - 1 > numel(B.values)
    error('simplecnn:replay', ['replay divergence: the MATLAB side asks %s (%d values) at %s value #%d, ' ...
          'but the Python side drew only %d %s values: the two sides draw differently'], ...
          call, count, kind, p, numel(B.values), kind);
end
v = B.values(p : p + count - 1);
if strcmp(cls, 'single')
    v = single(v);
end
if numel(shape) == 1
    shape = [shape 1];
end
X = reshape(v, shape);
simplecnn_replay__.(kind).next_draw = d + 1;
simplecnn_replay__.(kind).next_value = p + count;
end
