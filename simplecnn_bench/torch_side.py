"""PyTorch (CPU) on the same network, weights and data, in a subprocess."""
from __future__ import annotations

import json
import sys

from simplecnn_bench.common import grad_rel, median, rel, run_process_rss


TORCH_SCRIPT = r"""
import json, sys, time, statistics
import numpy as np
import torch
import torch.nn.functional as F
spec = json.load(open(sys.argv[1]))
torch.set_num_threads(spec["threads"])
z = np.load(spec["npz"])
dt = torch.float64 if spec["precision"] == "double" else torch.float32
X = torch.from_numpy(z["X"]).to(dt)
Y = torch.from_numpy(z["Y"]).to(dt)
LC, L = spec["LC"], spec["L"]
W = [torch.from_numpy(z[f"W{m}"]).to(dt).requires_grad_() for m in range(1, L + 1)]
B = [torch.from_numpy(z[f"b{m}"]).to(dt).requires_grad_() for m in range(1, L + 1)]
def step():
    for t in W + B:
        t.grad = None
    out = X
    for m in range(LC):
        out = F.relu(F.conv2d(out, W[m], B[m], stride=spec["strides"][m], padding=spec["pad"][m]))
        if spec["pool"][m] > 1:
            out = F.max_pool2d(out, spec["pool"][m])
    out = out.permute(0, 3, 2, 1).reshape(out.shape[0], -1)      # simpleNN's (c, y, x) order
    for m in range(LC, L):
        out = F.linear(out, W[m], B[m])
        if m < L - 1:
            out = F.relu(out)
    loss = ((out - Y) ** 2).sum()
    loss.backward()
    return loss
step()
times = []
for r in range(spec["repeats"]):
    t0 = time.perf_counter(); loss = step(); times.append(time.perf_counter() - t0)
np.savez(spec["out"], loss=loss.detach().double().numpy(),
         **{f"gW{m+1}": W[m].grad.double().numpy() for m in range(L)},
         **{f"gb{m+1}": B[m].grad.double().numpy() for m in range(L)})
print(json.dumps({"times": times, "version": torch.__version__}))
"""


def measure_torch(inp, model, prob, precision, repeats, ours, record):
    import numpy as np

    try:
        import importlib.util

        if importlib.util.find_spec("torch") is None:
            record("torch", "PyTorch CPU", None, None, error="torch not installed (pip install torch; optional)")
            return
    except Exception:
        return
    d = inp.workdir
    n, LC, L = prob.l, model.LC, model.L
    a, b, c = model.ht_input[1], model.wd_input[1], model.ch_input[1]
    X = np.reshape(prob.data, (c, a, b, n), order="F").transpose(3, 0, 1, 2)   # N, C, H, W
    arrays = {"X": np.ascontiguousarray(X, np.float64), "Y": np.ascontiguousarray(prob.label_mat.T, np.float64)}
    for m in range(1, L + 1):
        Wm = np.asarray(model.weight[m], np.float64)
        if m <= LC:
            h, dm = model.wd_filter[m], model.ch_input[m]
            Wm = np.reshape(Wm, (Wm.shape[0], h, h, dm), order="F").transpose(0, 3, 1, 2)   # o, c, i, j
        arrays[f"W{m}"] = np.ascontiguousarray(Wm)
        arrays[f"b{m}"] = np.asarray(model.bias[m], np.float64).reshape(-1)
    npz, out = d / f"torch-in-{n}.npz", d / f"torch-out-{precision}-{n}.npz"
    np.savez(npz, **arrays)
    spec = {"npz": str(npz), "out": str(out), "precision": precision, "repeats": repeats, "threads": 2,
            "LC": LC, "L": L, "strides": [model.strides[m] for m in range(1, LC + 1)],
            "pad": [model.wd_pad_added[m] for m in range(1, LC + 1)],
            "pool": [model.wd_subimage_pool[m] for m in range(1, LC + 1)]}
    (d / "torch_spec.json").write_text(json.dumps(spec))
    (d / "torch_bench.py").write_text(TORCH_SCRIPT)
    wall, rss, rc, so, se = run_process_rss([sys.executable, str(d / "torch_bench.py"), str(d / "torch_spec.json")],
                                             900)
    if rc != 0:
        record("torch", "PyTorch CPU", None, None, error=f"exit {rc}: {' | '.join(se.strip().splitlines()[-2:])}")
        return
    res = json.loads(so.strip().splitlines()[-1])
    z = np.load(out)
    gW, gb = [], []
    for m in range(1, L + 1):
        G = z[f"gW{m}"]
        if m <= LC:
            G = np.reshape(G.transpose(0, 2, 3, 1), (G.shape[0], -1), order="F")   # back to (o, i + h*j + h*h*c)
        gW.append(G)
        gb.append(z[f"gb{m}"].reshape(-1, 1))
    err = max(grad_rel(ours["net"].dlossdW, ours["net"].dlossdb, gW, gb, L), rel(ours["loss"], float(z["loss"])))
    record("torch", f"PyTorch {res['version']} CPU (2 threads)", median(res["times"]), res["times"],
           peak=rss, rel_err_vs_ours=err)
