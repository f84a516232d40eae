function model = newton(prob, param, model, net)
% model = newton(prob, param, model, net)
%
% Subsampled Gauss-Newton with Levenberg-Marquardt damping and a
% backtracking line search, as the seed layout trains (-s 1):
%   * num_splits = floor(1/SR) splits; each instance is assigned one split
%     once, by randi(num_splits, l, 1);
%   * f and the gradient are summed over all splits (fungrad_minibatch's
%     seed form); the split handled last gives the Gauss-Newton matrix: the
%     first one at the start, then the one of mod(k, num_splits) + 1 from
%     the line search of iteration k on;
%   * CG (opt/CG.m) on ((lambda + 1/C) I + G/|split|) s = -g;
%   * alpha = 1, 1/2, 1/4, ... until f_new - f <= eta*alpha*g's;
%   * lambda times boost when actred/prered < 0.25, times drop when >= 0.75.
% Each iteration prints one line (no initial f, no total):
%   k-iter f: .. |g|: .. alpha: .. ratio: .. lambda: .. #CG: .. actred: .. prered: ..

assign = randi(param.num_splits, prob.l, 1);
splits = cell(param.num_splits, 1);
for i = 1 : param.num_splits
	splits{i} = find(assign == i);
end

handled_last = 1;
[net, f, grad] = fungrad_minibatch(prob, param, model, net, splits, handled_last, 'fungrad');
for k = 1 : param.iter_max
	if isempty(splits{handled_last})
		error('newton: split %d of %d holds no instance (use more instances or a larger -SR)', ...
			handled_last, param.num_splits);
	end
	net = gauss_newton_net(param, model, net);
	[s, CGiter, gs, sGs] = CG(param, model, net, grad);

	f_old = f;
	handled_last = mod(k, param.num_splits) + 1;
	alpha = 1;
	moved = 0;
	while true
		model = move(model, alpha - moved, s);
		moved = alpha;
		prered = alpha*gs + alpha^2*sGs;
		[~, f] = fungrad_minibatch(prob, param, model, net, splits, handled_last, 'funonly');
		actred = f - f_old;
		if actred <= param.eta*alpha*gs
			break;
		end
		alpha = alpha/2;
	end
	ratio = actred/prered;
	if ratio < 0.25
		param.lambda = param.lambda*param.boost;
	elseif ratio >= 0.75
		param.lambda = param.lambda*param.drop;
	end
	[net, f, grad] = fungrad_minibatch(prob, param, model, net, splits, handled_last, 'fungrad');
	gnorm = 0;
	for m = 1 : param.L
		gnorm = gnorm + norm(grad.dfdW{m}, 'fro')^2 + norm(grad.dfdb{m})^2;
	end
	fprintf('%d-iter f: %g |g|: %g alpha: %g ratio: %g lambda: %g #CG: %d actred: %g prered: %g\n', ...
		k, f, sqrt(gnorm), alpha, ratio, param.lambda, CGiter, actred, prered);
end
model.param = param;
end

function model = move(model, step, s)
% the weights plus step times the direction s (layer blocks vec([W b]))
for m = 1 : numel(model.weight)
	block = reshape(s(model.var_ptr(m) : model.var_ptr(m+1) - 1), size(model.weight{m}, 1), []);
	model.weight{m} = model.weight{m} + step*block(:, 1:end-1);
	model.bias{m} = model.bias{m} + step*block(:, end);
end
end

function net = gauss_newton_net(param, model, net)
% net.dzdS{m}: the derivatives of the nL outputs with respect to S^m for the
% instances of the last forward pass (columns: position fastest, then
% class, then instance), and net.phiZ{m} for the conv layers.
L = param.L;
LC = param.LC;
nL = param.nL;
n = net.num_sampled_data;
for m = 1 : LC
	net.phiZ{m} = padding_and_phiZ(model, net, m);
end
net.dzdS = cell(L, 1);
net.dzdS{L} = repmat(eye(nL), 1, n);
for m = L : -1 : LC+1
	active = reshape(repmat(net.Z{m} > 0, nL, 1), [], nL*n);
	net.dzdS{m-1} = (model.weight{m}'*net.dzdS{m}).*active;
end
for m = LC : -1 : 1
	if model.wd_subimage_pool(m) > 1
		net.dzdS{m} = vTP(param, model, net, m, net.dzdS{m}, 'pool_Jacobian');
	end
	net.dzdS{m} = reshape(net.dzdS{m}, model.ch_input(m+1), []);
	if m > 1
		U = vTP(param, model, net, m, model.weight{m}'*net.dzdS{m}, 'phi_Jacobian');
		U = reshape(U, model.ch_input(m), []);
		ab = model.ht_pad(m)*model.wd_pad(m);
		U = U(:, net.idx_pad{m} + ab*(0:nL*n-1));
		net.dzdS{m-1} = reshape(U, [], nL, n).*reshape(net.Z{m} > 0, [], 1, n);
	end
end
end
