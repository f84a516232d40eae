function X = randi(varargin)
% X = randi(imax, ...): while compare-train replays the Python side's draws
% (this folder is on the path only then), the next integer draw the Python
% side made, its values in 1..imax, in the size asked; another size, a
% range not starting at 1, or values above imax is a replay divergence.
global simplecnn_replay__
call = simplecnn_replay_call__('randi', varargin);
if isempty(simplecnn_replay__) || ~simplecnn_replay__.active
    error('randi: %s outside a replay (the compare-train shadow was left on the path)', call);
end
if isempty(varargin) || isempty(varargin{1}) || (~isscalar(varargin{1}) && double(varargin{1}(1)) ~= 1)
    error('simplecnn:replay', 'replay divergence: the MATLAB side calls %s; the Python side draws randi(imax, ...) only', call);
end
imax = double(varargin{1}(end));
[dims, cls] = simplecnn_replay_args__('randi', varargin(2:end));
X = simplecnn_replay_serve__('randi', dims, cls, call);
if any(X(:) > imax)
    error('simplecnn:replay', 'replay divergence: the MATLAB side calls %s, the Python side drew integers up to %d', ...
          call, max(X(:)));
end
end
