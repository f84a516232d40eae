function y = randsample(n, k, replace)
% y = randsample(n, k): k of the integers 1..n without repetition, as a
% column.  While the harness replays the Python side's draws, the next
% permutation draw it made, randperm(n, k); with replacement (third
% argument true) or a population vector it is a replay divergence.
% Without an active replay: randperm(n, k)' (Octave has no randsample
% without the statistics package).
global simplecnn_replay__
if nargin < 3
    replace = false;
end
active = ~isempty(simplecnn_replay__) && simplecnn_replay__.active;
if ~isscalar(n) || replace
    if active
        error('simplecnn:replay', ['replay divergence: the MATLAB side calls randsample with a population ' ...
              'vector or with replacement; the Python side draws randsample(n, k) only']);
    end
    error('randsample: only randsample(n, k) without replacement is provided here');
end
y = randperm(n, k);
y = y(:);
end
