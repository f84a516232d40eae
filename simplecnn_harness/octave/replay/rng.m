function out = rng(varargin)
% rng(...): seeding calls (rng(seed), rng('default'), rng(seed, 'twister'),
% rng('shuffle'), rng(state)) change nothing while the harness replays the
% Python side's random stream; s = rng returns a settings struct.
s = struct('Type', 'twister', 'Seed', 0, 'State', zeros(625, 1));
if numel(varargin) >= 1 && isnumeric(varargin{1}) && isscalar(varargin{1})
    s.Seed = varargin{1};
end
if nargout > 0
    out = s;
end
end
