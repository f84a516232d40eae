function X = randi(varargin)
% X = randi(imax, ...): while the harness replays the Python side's draws
% for a training comparison, the next integer draw the Python side made
% (its values in 1..imax, in the size asked); another size, or values
% above imax, is a replay divergence.  Without an active replay: uniform
% integers from the built-in rand (lo..hi for randi([lo hi], ...)).
global simplecnn_replay__
if numel(varargin) < 1
    error('randi: the range imax or [lo hi] is missing');
end
r = double(varargin{1});
if isscalar(r)
    lo = 1;
    hi = r;
else
    lo = r(1);
    hi = r(2);
end
if isempty(simplecnn_replay__) || ~simplecnn_replay__.active
    X = lo + floor(builtin('rand', varargin{2:end})*(hi - lo + 1));
    return;
end
call = simplecnn_replay_call__('randi', varargin);
if lo ~= 1
    error('simplecnn:replay', 'replay divergence: the MATLAB side calls %s; the Python side draws randi(imax, ...) only', call);
end
[dims, cls] = simplecnn_replay_args__('randi', varargin(2:end));
X = simplecnn_replay_serve__('randi', dims, cls, call);
if any(X(:) > hi)
    error('simplecnn:replay', 'replay divergence: the MATLAB side calls %s, the Python side drew integers up to %d', ...
          call, max(X(:)));
end
end
