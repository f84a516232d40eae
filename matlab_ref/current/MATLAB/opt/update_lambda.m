function param = update_lambda(param, actred, prered)
% param = update_lambda(param, actred, prered)
%
% Levenberg-Marquardt rule on the ratio actred/prered: lambda times boost
% when the ratio is below 0.25, times drop when it is 0.75 or more (a NaN
% ratio leaves lambda as it is).

ratio = actred/prered;
if ratio < 0.25
    param.lambda = param.lambda*param.boost;
elseif ratio >= 0.75
    param.lambda = param.lambda*param.drop;
end
end
