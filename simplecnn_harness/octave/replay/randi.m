function X = randi(varargin)
% randi(...): the Python side of a replayed run never draws integers this
% way (its draws are randn, rand and randperm), so while a replay is active
% a call is a replay divergence.  Without an active replay this is the
% built-in randi.
global simplecnn_replay__
if isempty(simplecnn_replay__) || ~simplecnn_replay__.active
    X = builtin('randi', varargin{:});
    return;
end
error('simplecnn:replay', ['replay divergence: the MATLAB side calls %s, a draw the Python side ' ...
      'never makes (it draws randn, rand and randperm only)'], simplecnn_replay_call__('randi', varargin));
end
