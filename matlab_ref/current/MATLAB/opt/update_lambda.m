function param = update_lambda(param, ratio)
% param = update_lambda(param, ratio)
%
% Levenberg-Marquardt rule of newton, ratio = actred/prered:
% param.lambda is multiplied by param.boost when ratio < 0.25 and by
% param.drop when ratio >= 0.75 (unchanged otherwise, and for a NaN ratio).

if ratio < 0.25
    param.lambda = param.lambda*param.boost;
elseif ratio >= 0.75
    param.lambda = param.lambda*param.drop;
end
end
