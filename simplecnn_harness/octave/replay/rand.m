function X = rand(varargin)
% X = rand(...): while the harness replays the Python side's random stream
% (simplecnn_replay_load__), the values come from that stream, filled
% column-major in the size asked (rand(n), rand(m, n, ...), rand([m n ...]),
% 'single', 'double', 'like', x; a leading stream argument is ignored);
% seeding and state calls (rand('state', s), rand('seed', s), ...) go to the
% built-in generator and change nothing that is served.  Without an active
% replay this is the built-in rand.
global simplecnn_replay__
if isempty(simplecnn_replay__) || ~simplecnn_replay__.active
    X = builtin('rand', varargin{:});
    return;
end
[dims, cls, passthrough] = simplecnn_replay_args__('rand', varargin);
if passthrough
    if nargout > 0
        X = builtin('rand', varargin{:});
    else
        builtin('rand', varargin{:});
    end
    return;
end
X = simplecnn_replay_serve__('rand', dims, cls, simplecnn_replay_call__('rand', varargin));
end
