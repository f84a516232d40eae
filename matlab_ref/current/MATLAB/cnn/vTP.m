function out = vTP(model, net, m, num_data, V, op)
% vTP = vTP(model, net, m, num_data, V, op)
%
% vec(V)^T P for the slides' 0/1 matrices P, computed by accumarray (the
% transposed gather), returned as a row vector.
%   'pool_gradient': V is ch_input(m+1) x (ht_input(m+1)*wd_input(m+1)*num_data);
%       scattered into the d*ht_conv*wd_conv*num_data positions given by
%       net.idx_pool{m} plus the instance offsets (vec(V)^T P_pool^m, eq. 26).
%   'phi_gradient': V is (wd_filter(m)^2*ch_input(m)) x (ht_conv(m)*wd_conv(m)*num_data);
%       scattered into ch_input(m)*ht_pad(m)*wd_pad(m)*num_data positions by
%       net.idx_phiZ{m} plus the instance offsets; overlapping patches add
%       up (vec(V)^T P_phi^m, eq. 28).
%   'pool_Jacobian', 'phi_Jacobian': the same for nL vectors per instance:
%       V holds nL*num_data such blocks, block k + nL*(i-1) belonging to
%       output k of instance i (used by Jacobian for net.dzdS).

nL = model.nL;
switch op
    case 'pool_gradient'
        D = model.ch_input(m+1)*model.ht_conv(m)*model.wd_conv(m);
        subs = net.idx_pool{m} + D*(0:num_data-1);
        N = D*num_data;
    case 'pool_Jacobian'
        D = model.ch_input(m+1)*model.ht_conv(m)*model.wd_conv(m);
        idx = reshape(net.idx_pool{m}, [], 1, num_data);
        subs = idx + D*reshape(0:nL*num_data-1, 1, nL, num_data);
        N = D*nL*num_data;
    case 'phi_gradient'
        D = model.ch_input(m)*model.ht_pad(m)*model.wd_pad(m);
        subs = net.idx_phiZ{m}(:) + D*(0:num_data-1);
        N = D*num_data;
    case 'phi_Jacobian'
        D = model.ch_input(m)*model.ht_pad(m)*model.wd_pad(m);
        subs = net.idx_phiZ{m}(:) + D*(0:nL*num_data-1);
        N = D*nL*num_data;
    otherwise
        error('vTP: unknown operation %s', op);
end
out = accumarray(subs(:), V(:), [N 1])';
end
