function [predict, acc] = cnn_predict(y, Z, model)
% [predict, acc] = cnn_predict(y, Z, model)
%
% Predicted labels of the instances Z (l x a*b*d, see check_data): the
% argmax of Z{L+1} per instance mapped back through the sorted label set
% model.label_enum (kept by cnn_train; 1..nL when absent), and the accuracy
% against y.

here = fileparts(mfilename('fullpath'));
addpath(fullfile(here, 'cnn'), fullfile(here, 'opt'));

param.L = model.L;
param.LC = model.LC;
param.LF = model.L - model.LC;
param.nL = model.nL;
param.ht_input = model.ht_input(1);
param.wd_input = model.wd_input(1);
param.ch_input = model.ch_input;
param.bsize = 128;

prob.Z = Z;
prob = check_data(prob, param);
if isfield(model, 'label_enum')
	prob.label_enum = model.label_enum;
end
net = init_net(param, model);
% feval: the output variable of this function is also called predict
predict = feval('predict', prob, param, model, net);
acc = cal_accuracy(predict, y);
