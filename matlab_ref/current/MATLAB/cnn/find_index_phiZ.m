function idx = find_index_phiZ(a, b, d, h, s)
% idx = find_index_phiZ(a, b, d, h, s)
%
% 1-based positions into vec of one d x a x b image (channel fastest) such
% that Zvec(idx) is phi(Z) of size (h*h*d) x (a_out*b_out), with
% a_out = floor((a-h)/s)+1, b_out = floor((b-h)/s)+1: the matrix P_phi of
% the slides (eq. 3) as an index.  With 0-based channel c, filter offsets
% i (height), j (width) and output position (r, q), row i + h*j + h*h*c of
% column r + a_out*q holds 1 + c + d*((r*s + i) + a*(q*s + j)).
% With h = s = pooling width it gives the pooling windows (idx_phiZ_pool).

a_out = floor((a - h)/s) + 1;
b_out = floor((b - h)/s) + 1;
i = (0:h-1)';
j = 0:h-1;
c = reshape(0:d-1, 1, 1, d);
row_part = reshape(1 + c + d*(i + a*j), [], 1);
r = (0:a_out-1)';
q = 0:b_out-1;
col_part = reshape(d*s*(r + a*q), 1, []);
idx = row_part + col_part;
end
