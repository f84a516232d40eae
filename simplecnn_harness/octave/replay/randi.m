function X = randi(varargin)
% randi(...): the Python side of a replayed run never draws integers this
% way (its draws are randn, rand and randperm), so while a replay is active
% a call is a replay divergence.  Without an active replay: uniform integers
% in 1..imax (or lo..hi for randi([lo hi], ...)) from the built-in rand
% (randi itself is not a built-in, so it cannot be called through builtin).
global simplecnn_replay__
if isempty(simplecnn_replay__) || ~simplecnn_replay__.active
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
    X = lo + floor(builtin('rand', varargin{2:end})*(hi - lo + 1));
    return;
end
error('simplecnn:replay', ['replay divergence: the MATLAB side calls %s, a draw the Python side ' ...
      'never makes (it draws randn, rand and randperm only)'], simplecnn_replay_call__('randi', varargin));
end
