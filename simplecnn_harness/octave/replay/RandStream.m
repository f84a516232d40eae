classdef RandStream < handle
% RandStream: a stand-in while the harness replays the Python side's random
% stream.  Creating a stream, setting or getting the global (default)
% stream and reset change nothing; rand(s, ...), randn(s, ...) serve the
% replayed values like rand(...), randn(...).
    properties
        Type = 'replayed';
        Seed = 0;
        State = [];
    end
    methods
        function s = RandStream(varargin)
            if numel(varargin) >= 1 && ischar(varargin{1})
                s.Type = varargin{1};
            end
            for k = 2 : numel(varargin) - 1
                if ischar(varargin{k}) && strcmpi(varargin{k}, 'Seed')
                    s.Seed = varargin{k+1};
                end
            end
        end
        function reset(s, varargin)
        end
    end
    methods (Static)
        function old = setGlobalStream(s)
            old = s;
        end
        function s = getGlobalStream()
            s = RandStream('replayed');
        end
        function old = setDefaultStream(s)
            old = s;
        end
        function s = getDefaultStream()
            s = RandStream('replayed');
        end
        function s = create(varargin)
            s = RandStream(varargin{:});
        end
    end
end
