function x = ftype(x)
% x = ftype(x): cast x to the working precision named by the global
% float_type ('single' or 'double'; unset means 'double').
global float_type
if isempty(float_type)
    x = double(x);
else
    x = cast(x, float_type);
end
end
