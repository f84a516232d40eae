function acc = cal_accuracy(labels, y)
% acc = cal_accuracy(labels, y)
%
% Fraction of predicted labels equal to the true ones.

acc = sum(labels(:) == y(:))/numel(y);
