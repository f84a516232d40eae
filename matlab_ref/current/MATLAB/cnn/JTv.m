function [dzdW, dzdb] = JTv(model, net, v)
% [dzdW, dzdb] = JTv(model, net, v)
%
% The backward pass: J' v for the network output z^{L+1} of the instances
% of the last feedforward, v being nL x num_data (one column per instance).
% For the loss, v = 2*(Z{L+1} - Y) gives dlossdW, dlossdb (lossgrad_subset).
% Slides' summary of operations, eqs. (19)-(22) for full layers and
% (26)-(28) for conv layers:
%   full m = L..LC+1:  dzdW{m} = dXidS*Z{m}',  dzdb{m} = sum(dXidS, 2),
%                      dXidS = (W{m}'*dXidS) .* (Z{m} > 0)
%   conv m = LC..1:    dXidS = mat(vec(dXidS)' P_pool)        (pooled layers)
%                      dzdW{m} = dXidS*phiZ{m}',  dzdb{m} = sum(dXidS, 2)
%                      for m > 1: V = W{m}'*dXidS, dXidS = vec(V)' P_phi,
%                      remove the padding, dXidS = dXidS .* (Z{m} > 0)
% Shapes: dzdW{m}, dzdb{m} as model.weight{m}, model.bias{m}.
% One statement per line and loop variable m (the harness instruments it);
% the trailing comments name the trace stages of docs/design.md.

L = model.L;
LC = model.LC;
num_data = size(v, 2);
dzdW = cell(L, 1);
dzdb = cell(L, 1);
dXidS = v;
for m = L : -1 : LC+1
    dzdW{m} = dXidS*net.Z{m}';                 % stage dlossdW
    dzdb{m} = sum(dXidS, 2);                   % stage dlossdb
    WtDelta = model.weight{m}'*dXidS;          % stage WtDelta
    dXidS = WtDelta .* (net.Z{m} > 0);         % stage activation
end
for m = LC : -1 : 1
    dXidS = reshape(dXidS, model.ch_input(m+1), []);    % stage dXidS (delta entering conv layer m)
    if model.wd_subimage_pool(m) > 1
        dXidS = reshape(vTP(model, net, m, num_data, dXidS, 'pool_gradient'), model.ch_input(m+1), []);    % stage pool_gradient
    end
    dzdW{m} = dXidS*net.phiZ{m}';              % stage dlossdW
    dzdb{m} = sum(dXidS, 2);                   % stage dlossdb
    if m > 1
        WtDelta = model.weight{m}'*dXidS;      % stage WtDelta
        dXidS = reshape(vTP(model, net, m, num_data, WtDelta, 'phi_gradient'), model.ch_input(m), []);    % stage phi_gradient
        dXidS_pad = reshape(dXidS, model.ch_input(m), model.ht_pad(m), model.wd_pad(m), []);    % (a 4-D view of phi_gradient, not a stage)
        p = model.wd_pad_added(m);             % (not a stage)
        dXidS = reshape(dXidS_pad(:, p+1:p+model.ht_input(m), p+1:p+model.wd_input(m), :), model.ch_input(m), []);    % stage unpad
        dXidS = dXidS .* (net.Z{m} > 0);       % stage activation
    end
end
end
