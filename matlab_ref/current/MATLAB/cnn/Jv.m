function R_z = Jv(model, net, v)
% R_z = Jv(model, net, v)
%
% Jacobian-vector product J v of the network output z^{L+1} with respect to
% the flat parameter vector (layout of cells_to_vec / model.var_ptr), for
% the instances of the last feedforward: the R-operator forward pass
% (no stored Jacobian).  Returns R_z, nL x num_data.
%   R{Z^1} = 0
%   conv m:  R{S^m} = V_W{m}*phiZ{m} + v_b{m} + W{m}*phi(pad(R{Z^m}))
%            pooled: R{S^m} taken at the winners net.idx_pool{m} (as
%            maxpooling's R_Z), then R{Z^{m+1}} = R{S^m} .* (Z{m+1} > 0)
%   full m:  R{S^m} = V_W{m}*Z{m} + v_b{m} + W{m}*R{Z^m};
%            R{Z^{m+1}} = R{S^m} .* (Z{m+1} > 0) for m < L, R{S^L} for m = L.
% The mask on Z{m+1} after pooling is the slides' eq. (24) trick: a pooled
% value is > 0 exactly when its winner's S is > 0.  This is the exact
% adjoint of JTv.
% Uses net.Z, net.phiZ, net.idx_pool of the forward pass.

L = model.L;
LC = model.LC;
num_data = size(net.Z{L+1}, 2);
[VW, vb] = vec_to_cells(v, model);
R_Z = [];
for m = 1 : LC
    R_S = VW{m}*net.phiZ{m} + vb{m};
    if m > 1
        R_S = R_S + model.weight{m}*padding_and_phiZ(model, net, R_Z, m, num_data);
    end
    if model.wd_subimage_pool(m) > 1
        D = size(R_S, 1)*model.ht_conv(m)*model.wd_conv(m);
        R_S = reshape(R_S, D, num_data);
        R_S = reshape(R_S(net.idx_pool{m} + D*(0:num_data-1)), model.ch_input(m+1), []);
    end
    R_Z = R_S .* reshape(net.Z{m+1} > 0, size(R_S));
end
R_Z = reshape(R_Z, [], num_data);
for m = LC+1 : L
    R_S = VW{m}*net.Z{m} + vb{m} + model.weight{m}*R_Z;
    if m < L
        R_Z = R_S .* (net.Z{m+1} > 0);
    else
        R_Z = R_S;
    end
end
R_z = R_Z;
end
