function [s, CGiter, gs, sGs] = CG(param, model, net, grad)
% [s, CGiter, gs, sGs] = CG(param, model, net, grad)
%
% Conjugate gradient from s = 0 on M s = -g, M = (lambda + 1/C) I + G/n,
% G v = J' (2 J v) over the n instances whose Jacobian net.dzdS holds
% (newton.m). At least one step, at most CGmax; stop once ||r|| <= xi*||g||.
% gs = s'g and sGs = s'(-g - r - lambda*s)/2 give the predicted reduction
% alpha*gs + alpha^2*sGs of a step alpha*s.

n_var = model.var_ptr(end) - 1;
g = zeros(n_var, 1);
for m = 1 : param.L
	g(model.var_ptr(m) : model.var_ptr(m+1) - 1) = [grad.dfdW{m}(:); grad.dfdb{m}];
end
n = net.num_sampled_data;
s = zeros(n_var, 1);
r = -g;
p = r;
rr = r'*r;
stop = param.xi*norm(g);
for CGiter = 1 : param.CGmax
	Mp = (param.lambda + 1/param.C)*p + JTu(param, model, net, 2*Ju(param, model, net, p))/n;
	step = rr/(p'*Mp);
	s = s + step*p;
	r = r - step*Mp;
	rr_new = r'*r;
	if sqrt(rr_new) <= stop || CGiter == param.CGmax
		break;
	end
	p = r + (rr_new/rr)*p;
	rr = rr_new;
end
gs = s'*g;
sGs = 0.5*s'*(-g - r - param.lambda*s);
end

function q = Ju(param, model, net, v)
% J v: nL*n values, class fastest
L = param.L;
LC = param.LC;
nL = param.nL;
n = net.num_sampled_data;
q = zeros(nL*n, 1);
for m = L : -1 : 1
	block = reshape(v(model.var_ptr(m) : model.var_ptr(m+1) - 1), size(model.weight{m}, 1), []);
	if m > LC
		rows = size(model.weight{m}, 1);
		RS = block*[net.Z{m}; ones(1, n)];
	else
		rows = size(model.weight{m}, 1)*model.ht_conv(m)*model.wd_conv(m);
		RS = block*[net.phiZ{m}; ones(1, size(net.phiZ{m}, 2))];
	end
	t = sum(reshape(net.dzdS{m}, rows, nL, n).*reshape(RS, rows, 1, n), 1);
	q = q + t(:);
end
end

function u = JTu(param, model, net, q)
% J' q: one value per variable, layer blocks vec([W b])
L = param.L;
LC = param.LC;
nL = param.nL;
n = net.num_sampled_data;
u = zeros(model.var_ptr(end) - 1, 1);
for m = L : -1 : 1
	d = size(model.weight{m}, 1);
	T = sum(reshape(reshape(net.dzdS{m}, [], nL*n).*q', [], nL, n), 2);
	if m > LC
		block = reshape(T, d, n)*[net.Z{m}' ones(n, 1)];
	else
		block = reshape(T, d, [])*[net.phiZ{m}' ones(size(net.phiZ{m}, 2), 1)];
	end
	u(model.var_ptr(m) : model.var_ptr(m+1) - 1) = block(:);
end
end
