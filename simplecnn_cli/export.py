"""``simplecnn export``: a trained model as an ONNX graph or a PyTorch (torch.export) program.

    simplecnn export --model M.mat --format onnx|torch --out FILE
                     [--precision single|double] [--verify DATA.mat]

The work is ``simplecnn_interop.export.export_model``; exit 0, 1 when
``--verify`` finds a label that differs, 2 on bad input or a missing extra.
"""
from __future__ import annotations

from simplecnn_cli import args as shared


def add_parser(sub):
    p = sub.add_parser(
        "export", help="export a trained model to ONNX or PyTorch (torch.export)",
        description="Write a simpleNN model (the real cnn_train's, the seed layout's or simplecnn train's) as an "
                    "ONNX graph or a torch.export program: images (N, C, H, W) in, scores (N, nL) out; the "
                    "labels and the config in its metadata.")
    p.add_argument("--model", required=True, metavar="M.mat", help="MAT file with the model struct")
    p.add_argument("--format", required=True, choices=("onnx", "torch"), help="onnx (needs the [onnx] extra) "
                   "or torch (a torch.export program, needs the [torch] extra)")
    shared.output(p, "--out", "FILE", "the file to write (e.g. model.onnx, model.pt2)", required=True)
    shared.precision(p, default="single", help="float32 (default) or float64 weights and computation")
    p.add_argument("--verify", metavar="DATA.mat",
                   help="run the port's cnn_predict forward and the exported file on this data file and "
                        "compare: largest score difference, label agreement (exit 1 if a label differs)")
    shared.quiet(p, help="accepted for symmetry: export prints its report on stdout and no progress")
    return p


def run(args) -> int:
    from simplecnn_interop.export import export_model

    report = export_model(args.model, args.format, args.out, args.precision, args.verify)
    print("\n".join(report.lines))
    return 1 if report.labels_differ else 0
