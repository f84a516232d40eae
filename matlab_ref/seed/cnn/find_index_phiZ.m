function idx = find_index_phiZ(a, b, d, h, s)
% idx = find_index_phiZ(a, b, d, h, s)
%
% P_phi as indices (the slides' eq. (3)): 1-based positions into vec of one
% d x a x b image such that taking them in order gives vec(phi(Z)), phi(Z)
% being (h*h*d) x (a_out*b_out), a_out = floor((a-h)/s)+1 (b_out likewise).
% With 0-based channel c, filter offsets i (height) and j (width) and output
% position (r, q), the entry for row i + h*j + h*h*c of column r + a_out*q is
%   1 + c + d*((r*s + i) + a*(q*s + j)).
% With h = s = pool width it gives the non-overlapping pooling windows.
% A column vector of h*h*d*a_out*b_out entries.

a_out = floor((a - h)/s) + 1;
b_out = floor((b - h)/s) + 1;
[i, j, c] = ndgrid(0:h-1, 0:h-1, 0:d-1);
offset = c(:) + d*(i(:) + a*j(:));
[r, q] = ndgrid(0:a_out-1, 0:b_out-1);
start = d*(r(:)*s + a*q(:)*s);
idx = 1 + offset + start';
idx = idx(:);
