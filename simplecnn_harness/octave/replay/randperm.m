function p = randperm(varargin)
% p = randperm(n) or randperm(n, k): while the harness replays the Python
% side's random stream (simplecnn_replay_load__), the next permutation the
% Python side drew, as a 1 x k row of doubles; asking another n or k than
% the Python side's draw of the same number is a replay divergence.
% Without an active replay this is the built-in randperm.
global simplecnn_replay__
if isempty(simplecnn_replay__) || ~simplecnn_replay__.active
    p = builtin('randperm', varargin{:});
    return;
end
call = simplecnn_replay_call__('randperm', varargin);
if numel(varargin) < 1 || numel(varargin) > 2
    error('simplecnn:replay', '%s: randperm takes n or (n, k)', call);
end
n = double(varargin{1});
if numel(varargin) == 2
    k = double(varargin{2});
else
    k = n;
end
if ~isscalar(n) || ~isscalar(k) || n < 0 || k < 0 || k > n || n ~= floor(n) || k ~= floor(k)
    error('simplecnn:replay', '%s: n and k must be integers with 0 <= k <= n', call);
end
p = simplecnn_replay_serve__('randperm', [n k], 'double', call);
end
