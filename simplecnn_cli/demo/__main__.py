"""``python -m simplecnn_cli.demo``: print the folder of the bundled demo
files (the same folder in a checkout and in an installed wheel), e.g.

    D=$(python -m simplecnn_cli.demo)
    simplecnn gradient --config $D/demo.config --data $D/demo-data.mat --out grad.mat

``python -m simplecnn_cli.demo NAME``: the path of one file, checked."""
import sys

from simplecnn_cli.demo import HERE, demo_path


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print(HERE)
        return 0
    try:
        for name in argv:
            print(demo_path(name))
    except FileNotFoundError as e:
        print(f"simplecnn: error: {e}; the files: {', '.join(sorted(p.name for p in HERE.iterdir() if p.suffix in ('.mat', '.config')))}",
              file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
