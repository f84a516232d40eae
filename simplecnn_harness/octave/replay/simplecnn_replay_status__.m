function simplecnn_replay_status__(stop)
% simplecnn_replay_status__(stop): print one line per kind,
%   replay-status <kind> <draws used> <draws made by Python> <values used> <values drawn by Python>
% and, when stop is true, end the replay (the shadows fall back to the
% built-in generators).
global simplecnn_replay__
if isempty(simplecnn_replay__)
    return;
end
kinds = {'randn', 'rand', 'randperm', 'randi'};
for j = 1 : numel(kinds)
    B = simplecnn_replay__.(kinds{j});
    fprintf('replay-status %s %d %d %d %d\n', kinds{j}, B.next_draw - 1, size(B.shapes, 1), ...
            B.next_value - 1, numel(B.values));
end
if nargin >= 1 && stop
    simplecnn_replay__.active = false;
end
end
