function X = randn(varargin)
% X = randn(...): while the harness replays the Python side's random stream
% (simplecnn_replay_load__), the values come from that stream, filled
% column-major in the size asked (randn(n), randn(m, n, ...), randn([m n ...]),
% 'single', 'double', 'like', x; a leading stream argument is ignored);
% seeding and state calls (randn('state', s), randn('seed', s), ...) go to the
% built-in generator and change nothing that is served.  Without an active
% replay this is the built-in randn.
global simplecnn_replay__
if isempty(simplecnn_replay__) || ~simplecnn_replay__.active
    X = builtin('randn', varargin{:});
    return;
end
[dims, cls, passthrough] = simplecnn_replay_args__('randn', varargin);
if passthrough
    if nargout > 0
        X = builtin('randn', varargin{:});
    else
        builtin('randn', varargin{:});
    end
    return;
end
X = simplecnn_replay_serve__('randn', dims, cls, simplecnn_replay_call__('randn', varargin));
end
