function net = feedforward(data, model, net)
% net = feedforward(data, model, net)
%
% Forward pass (the gradient-calculation slides, eq. (3)).
%   data: (ch_input(1)*ht_input(1)*wd_input(1)) x num_data, as prob.data.
%   net.Z{1} = reshape(data, ch_input(1), []);
%   conv m = 1..LC:  net.phiZ{m} = phi(pad(Z^m)), (h*h*d) x (a_conv*b_conv*num_data)
%                    sigmaS = max(W^m phiZ + b^m, 0), ch_input(m+1) x (a_conv*b_conv*num_data)
%                    net.Z{m+1} = maxpooling of sigmaS (pooled layers, winners
%                    in net.idx_pool{m}), else sigmaS
%   net.Z{LC+1} reshaped to (d*a*b) x num_data
%   full m = LC+1..L: net.Z{m+1} = max(W^m Z^m + b^m, 0), linear for m = L.
% One statement per line and loop variable m (the harness instruments it).
% Stages (docs/design.md): phiZ, sigmaS, Z (= net.Z{m+1}), idx_pool.

L = model.L;
LC = model.LC;
num_data = size(data, 2);
net.Z{1} = reshape(data, model.ch_input(1), []);
for m = 1 : LC
    phiZ = padding_and_phiZ(model, net, net.Z{m}, m, num_data);
    net.phiZ{m} = phiZ;
    sigmaS = max(model.weight{m}*phiZ + model.bias{m}, 0);
    if model.wd_subimage_pool(m) > 1
        [net.Z{m+1}, net.idx_pool{m}] = maxpooling(model, net, sigmaS, m);
    else
        net.Z{m+1} = sigmaS;
    end
end
net.Z{LC+1} = reshape(net.Z{LC+1}, [], num_data);
for m = LC+1 : L
    S = model.weight{m}*net.Z{m} + model.bias{m};
    if m < L
        net.Z{m+1} = max(S, 0);
    else
        net.Z{m+1} = S;
    end
end
end
