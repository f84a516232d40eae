function inst_idx = assign_inst_idx(l, GNsize)
% inst_idx = assign_inst_idx(l, GNsize)
%
% The Gauss-Newton subsets of newton: perm = randperm(l) extended by its
% own first GNsize entries, inst_idx = [perm perm(1:GNsize)], so that every
% one of the ceil(l/GNsize) consecutive chunks of GNsize entries is full.
% Iteration k uses chunk j = mod(k-1, ceil(l/GNsize)) + 1,
% inst_idx((j-1)*GNsize+1 : j*GNsize); a new inst_idx is drawn when j = 1.
% GNsize <= l (cnn_train caps it).

perm = randperm(l);
inst_idx = [perm perm(1:GNsize)];
end
