"""``simplecnn import``: PyTorch weights as a simpleNN model struct for the real ``cnn_predict``.

    simplecnn import --torch FILE --config CFG --out M.mat
                     [--labels 'v1,v2,...'] [--precision single|double]

The work is ``simplecnn_interop.importer.import_torch``; exit 0, or 2 with
one line (shapes that do not fit the config name the first layer).
"""
from __future__ import annotations

from simplecnn_cli import args as shared


def add_parser(sub):
    p = sub.add_parser(
        "import", help="a PyTorch state_dict (or saved module) as a simpleNN model struct",
        description="Convert the weights of a PyTorch module of the config's network (a state_dict saved "
                    "with torch.save, a TorchScript file or a torch.export program) into the model struct "
                    "the real cnn_train returns, for MATLAB/Octave's cnn_predict.")
    p.add_argument("--torch", required=True, metavar="FILE", help="state_dict / TorchScript / torch.export file")
    shared.config(p, required=True, help="the simpleNN config of the network")
    shared.output(p, "--out", "M.mat", "MAT file to write (the variable model)", required=True)
    p.add_argument("--labels", metavar="'v1,v2,...'",
                   help="the nL class labels, comma-separated (default: those recorded by simplecnn export, "
                        "else 1..nL)")
    shared.precision(p, default=None, help="model.float_type (default: double for float64 tensors, else single)")
    shared.quiet(p, help="accepted for symmetry: import prints its report on stdout and no progress")
    return p


def run(args) -> int:
    from simplecnn_interop.importer import import_torch

    report = import_torch(args.torch, args.config, args.out, args.labels, args.precision)
    print("\n".join(report.lines))
    return 0
