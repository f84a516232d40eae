function [best_model, info] = adam(prob, prob_v, param, model, net)
% [best_model, info] = adam(prob, prob_v, param, model, net)
%
% Adam as the real adam.m: beta1 = 0.9, beta2 = 0.999, eps = 1e-8, step
% size param.lr (never decayed: -decay is ignored), the batches of sgd; per
% layer on the flat [vec(W); b]:
%   g = [vec(W); b]/C + [vec(dlossdW); dlossdb]/bsize
%   M = beta1*M + (1 - beta1)*g,  V = beta2*V + (1 - beta2)*(g.*g)
%   [W b] = [W b] - lr*((M/(1 - beta1^k))./(sqrt(V/(1 - beta2^k)) + eps))
% with k the EPOCH number (the real code's bias correction).  Printed lines
% and the best model as sgd.

[best_model, info] = stochastic(prob, prob_v, param, model, net, 'adam');
end
