function idx_pad = find_index_padding(model, m)
% idx_pad = find_index_padding(model, m)
%
% P_pad of conv layer m as indices: for the padded image of size
% ht_pad(m) x wd_pad(m), the 1-based linear positions (within one channel
% plane) where the ht_input(m) x wd_input(m) image lands, ordered
% column-major over the unpadded image. A column vector of a*b entries.

a = model.ht_input(m);
b = model.wd_input(m);
p = model.wd_pad_added(m);
a_pad = model.ht_pad(m);
[i, j] = ndgrid(0:a-1, 0:b-1);
idx_pad = 1 + (p + i(:)) + a_pad*(p + j(:));
