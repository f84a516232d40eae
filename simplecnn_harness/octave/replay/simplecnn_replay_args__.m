function [dims, cls, passthrough] = simplecnn_replay_args__(name, args)
% [dims, cls, passthrough] = simplecnn_replay_args__(name, args)
%
% The size and class asked by a call rand(args{:}) or randn(args{:}):
%   rand  rand(n)  rand(m, n, ...)  rand([m n ...])  rand(..., 'single')
%   rand(..., 'double')  rand(..., 'like', x)  rand(s, ...) with s a stream.
% passthrough is true for the seeding and state calls (rand('state', s),
% rand('seed', s), rand('twister', s), rand('state') ...): the shadow hands
% them to the built-in generator, whose values are never served while a
% replay is active, so they change nothing.
dims = [1 1];
cls = 'double';
passthrough = false;
if ~isempty(args) && (isa(args{1}, 'RandStream') || isstruct(args{1}))
    args = args(2:end);
end
sizes = {};
k = 1;
while k <= numel(args)
    a = args{k};
    if ischar(a)
        switch lower(a)
            case {'single', 'double'}
                cls = lower(a);
            case 'gpuarray'
                % served on the CPU, in the class asked otherwise
            case 'like'
                if k == numel(args)
                    error('simplecnn:replay', '%s(..., ''like''): the prototype is missing', name);
                end
                cls = class(args{k+1});
                if ~any(strcmp(cls, {'single', 'double'}))
                    cls = 'double';
                end
                k = k + 1;
            case {'state', 'seed', 'twister'}
                passthrough = true;
                return;
            otherwise
                error('simplecnn:replay', '%s: unknown option ''%s''', name, a);
        end
    else
        sizes{end+1} = a;
    end
    k = k + 1;
end
if numel(sizes) == 1
    s = double(sizes{1});
    if isscalar(s)
        dims = [s s];
    else
        dims = s(:)';
    end
elseif numel(sizes) > 1
    dims = zeros(1, numel(sizes));
    for j = 1 : numel(sizes)
        if ~isscalar(sizes{j})
            error('simplecnn:replay', '%s: size arguments must be scalars or one size vector', name);
        end
        dims(j) = double(sizes{j});
    end
end
dims = max(floor(dims), 0);
end
