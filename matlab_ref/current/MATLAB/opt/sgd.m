function [best_model, info] = sgd(prob, prob_v, param, model, net)
% [best_model, info] = sgd(prob, prob_v, param, model, net)
%
% Mini-batch SGD with momentum as the real sgd.m (param.C already times l):
% per epoch ceil(l/bsize) steps, each on randperm(l, bsize), with
%   Grad = [dlossdW dlossdb]/bsize + [W b]/C,  v = momentum*v - lr*Grad,
%   [W b] = [W b] + v,  then lr = lr0/(1 + decay*step), step = 1, 2, ...
% After each epoch: the last mini-batch's loss over bsize,
%   %d-epoch loss/batch_size: %g[ val_acc: %g]
% and, with a validation set, the model of the strictly best val_acc.
% info (our addition): per-epoch columns loss (loss/bsize) and val_acc.

[best_model, info] = stochastic(prob, prob_v, param, model, net, 'sgd');
end
