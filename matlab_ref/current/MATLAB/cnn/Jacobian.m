function net = Jacobian(model, net)
% net = Jacobian(model, net)
%
% The stored Jacobian of the network output with respect to every layer's
% S^m, for the instances of the last feedforward: net.dzdS{m} holds
% d z^{L+1}_k / d S^{m,i} for each output k and instance i, one block of
% columns per (k, i), block k + nL*(i-1):
%   full m:  net.dzdS{m} is n_{m+1} x (nL*num_data)
%   conv m:  net.dzdS{m} is ch_input(m+1) x (ht_conv(m)*wd_conv(m)*nL*num_data)
% It is JTv's backward pass started from the nL unit vectors of every
% instance (dXidS = [I_nL I_nL ...]), with the '_Jacobian' operations of
% vTP and the activation masks repeated for the nL outputs.
% Used by JTBJv (-Jacobian 1).

L = model.L;
LC = model.LC;
nL = model.nL;
num_data = size(net.Z{L+1}, 2);
dXidS = gpu(ftype(repmat(eye(nL), 1, num_data)));
for m = L : -1 : LC+1
    net.dzdS{m} = dXidS;
    dXidS = (model.weight{m}'*dXidS) .* repelem(net.Z{m} > 0, 1, nL);
end
for m = LC : -1 : 1
    dXidS = reshape(dXidS, model.ch_input(m+1), []);
    if model.wd_subimage_pool(m) > 1
        dXidS = reshape(vTP(model, net, m, num_data, dXidS, 'pool_Jacobian'), model.ch_input(m+1), []);
    end
    net.dzdS{m} = dXidS;
    if m > 1
        V = model.weight{m}'*dXidS;
        dXidS = reshape(vTP(model, net, m, num_data, V, 'phi_Jacobian'), model.ch_input(m), model.ht_pad(m), model.wd_pad(m), []);
        p = model.wd_pad_added(m);
        dXidS = dXidS(:, p+1:p+model.ht_input(m), p+1:p+model.wd_input(m), :);
        mask = reshape(net.Z{m} > 0, [], 1, num_data);
        dXidS = reshape(dXidS, [], nL, num_data) .* mask;
    end
end
end
