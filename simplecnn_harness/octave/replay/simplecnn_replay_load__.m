function simplecnn_replay_load__(file, strict)
% simplecnn_replay_load__(file, strict): start serving the Python side's
% draws.  file (written by simplecnn_harness/replay.py) holds, per kind
% (randn, rand, randperm, randi), <kind>_values (all values, in order) and
% <kind>_shapes (one row per draw: [m n] for randn/rand, [n k] for
% randperm).  strict (default true): each draw must ask the size the
% Python side's draw of the same number had.
global simplecnn_replay__
if nargin < 2
    strict = true;
end
S = load(file);
R = struct();
R.active = true;
R.strict = logical(strict);
kinds = {'randn', 'rand', 'randperm', 'randi'};
for j = 1 : numel(kinds)
    kind = kinds{j};
    B = struct('values', zeros(0, 1), 'shapes', zeros(0, 2), 'next_draw', 1, 'next_value', 1);
    if isfield(S, [kind '_values'])
        B.values = double(S.([kind '_values'])(:));
        B.shapes = double(reshape(S.([kind '_shapes']), [], 2));
    end
    R.(kind) = B;
end
simplecnn_replay__ = R;
end
