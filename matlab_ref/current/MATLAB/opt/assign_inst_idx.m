function chunks = assign_inst_idx(GNsize, l)
% chunks = assign_inst_idx(GNsize, l)
%
% The Gauss-Newton subsets of one cycle: a randperm(l), extended by its own
% first GNsize entries so that every chunk is full, cut into ceil(l/GNsize)
% consecutive chunks of GNsize instances (chunks{i}, rows).

n = ceil(l/GNsize);
perm = randperm(l);
perm = [perm perm(1:GNsize)];
chunks = cell(n, 1);
for i = 1 : n
    chunks{i} = perm((i-1)*GNsize+1 : i*GNsize);
end
end
