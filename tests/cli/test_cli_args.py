"""Every sub-command takes the shared flags (simplecnn_cli/args.py) with the
same checks and the same one-line messages, the older spellings of two flags
still work without being shown, and each command module only parses and
calls its workflow.  No Octave: every bad value is refused before any work."""
import argparse
import ast
import subprocess
import sys
from pathlib import Path

import pytest

from simplecnn_cli.main import COMMANDS, build_parser, main

REPO = Path(__file__).resolve().parents[2]

# the fewest arguments argparse accepts for each command (outputs go to {tmp})
MINIMAL = {
    "gradient": ["--config", "c", "--data", "d", "--out", "{tmp}/o.mat"],
    "compare": [],
    "train": ["--config", "c", "--data", "d", "--model", "{tmp}/m.mat"],
    "predict": ["--model", "m", "--data", "d"],
    "compare-train": ["--config", "c", "--data", "d", "--options=-s 1", "--seed", "0"],
    "bench": [],
    "check-gradient": ["--config", "c", "--data", "d", "--weights", "w", "--mine", "m"],
    "sweep": ["--repo", "r"],
    "record": ["--out", "{tmp}/t.mat"],
    "export": ["--model", "m", "--format", "onnx", "--out", "{tmp}/m.onnx"],
    "import": ["--torch", "t", "--config", "c", "--out", "{tmp}/m.mat"],
}
SEEDED = {"gradient", "compare", "train", "compare-train", "bench", "sweep", "record"}
TIMED = {"compare", "compare-train", "bench", "sweep", "record"}
TOLERANT = {"compare", "compare-train", "check-gradient", "sweep"}      # sweep: over configurations
COUNTED = {"compare", "compare-train", "bench", "sweep", "record"}
STRICT = {"gradient", "train", "predict"}


def subparser(name):
    parser = build_parser(only=name)
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[name]


def flags(name):
    return {s for a in subparser(name)._actions for s in a.option_strings}


def argv(name, tmp_path, *extra):
    return [name] + [a.replace("{tmp}", str(tmp_path)) for a in MINIMAL[name]] + [str(x) for x in extra]


def refused(capsys, args):
    rc = main(args)
    out, err = capsys.readouterr()
    assert rc == 2 and out == "" and len(err.splitlines()) == 1 and "Traceback" not in err, (args, err)
    return err.strip()


def test_every_command_is_listed_here():
    assert set(MINIMAL) == set(COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_quiet_accepted_by_every_command(name, tmp_path):
    args = subparser(name).parse_args(argv(name, tmp_path, "--quiet")[1:])
    assert args.quiet is True


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_shared_flags_are_where_they_belong(name):
    have = flags(name)
    assert ("--seed" in have) == (name in SEEDED)
    assert ("--timeout" in have) == (name in TIMED) == ("--octave-timeout" in have)
    assert ("--rtol" in have) == (name in TOLERANT) == ("--tol" in have)
    assert ("--instances" in have) == (name in COUNTED)
    assert ("--strict" in have) == (name in STRICT)


@pytest.mark.parametrize("name", sorted(SEEDED))
@pytest.mark.parametrize("seed", [-1, 2**32])
def test_a_seed_out_of_range_is_refused_with_one_message(name, seed, tmp_path, capsys):
    assert refused(capsys, argv(name, tmp_path, "--seed", seed)) == \
        f"simplecnn: error: --seed: must be an integer in [0, 2^32), not {seed}"


@pytest.mark.parametrize("name", sorted(TIMED))
@pytest.mark.parametrize("flag", ["--timeout", "--octave-timeout"])
def test_timeout_and_its_old_spelling(name, flag, tmp_path, capsys):
    assert refused(capsys, argv(name, tmp_path, flag, 0)) == \
        "simplecnn: error: --timeout: must be a positive number of seconds, not 0"
    assert subparser(name).parse_args(argv(name, tmp_path, flag, 12.5)[1:]).timeout == 12.5


@pytest.mark.parametrize("name", sorted(TOLERANT))
@pytest.mark.parametrize("flag", ["--rtol", "--tol"])
def test_tolerance_and_its_old_spelling(name, flag, tmp_path, capsys):
    assert refused(capsys, argv(name, tmp_path, f"{flag}=-1e-9")) == \
        "simplecnn: error: --rtol: must be a positive tolerance, not -1e-09"
    assert subparser(name).parse_args(argv(name, tmp_path, flag, 3e-7)[1:]).rtol == 3e-7


@pytest.mark.parametrize("name", sorted(COUNTED))
def test_instances_checked_alike(name, tmp_path, capsys):
    assert refused(capsys, argv(name, tmp_path, "--instances", 0)) == \
        "simplecnn: error: --instances: must be a positive number, not 0"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_old_spellings_are_not_shown(name):
    text = subparser(name).format_help()
    assert "--tol " not in text and "--octave-timeout" not in text


def output_flags(name):
    return [flag for flag, _ in subparser(name).get_default("shared_outputs") or []]


def test_each_output_is_checked_before_the_run(tmp_path, capsys):
    """Every output of every command: a missing folder refused with the same
    line (and a sweep's --out prefix checked for its .md, .html, .json)."""
    checked = 0
    for name in sorted(COMMANDS):
        for flag in output_flags(name):
            target = tmp_path / "no-such-folder" / "f"
            args = argv(name, tmp_path)
            if flag in args:
                args = args[:args.index(flag)] + args[args.index(flag) + 2:]
            err = refused(capsys, args + [flag, str(target)])
            shown = f"{target}.md" if name == "sweep" else str(target)
            assert err == (f"simplecnn: error: {flag}: cannot write {shown}: folder {target.parent} "
                           f"does not exist"), (name, err)
            checked += 1
    assert checked >= 10
    assert set(output_flags("train")) == {"--model", "--json", "--html"}


def test_two_outputs_naming_one_file_are_refused(tmp_path, capsys):
    err = refused(capsys, argv("train", tmp_path, "--json", tmp_path / "m.mat"))
    assert err == f"simplecnn: error: --json: {tmp_path / 'm.mat'} is also the --model file; name two different files"


def test_reproduce_lines_quote_options_and_keep_only_what_was_given(tmp_path):
    from simplecnn_cli import compare_train, sweep

    p = subparser("compare-train")
    a = p.parse_args(["--config", "c.config", "--data", "d.mat", "--options=-s 1 -iter_max 2", "--seed", "3",
                      "--tol", "1e-7", "--no-floor"])
    line = compare_train.reproduce_command(a)
    assert line == (f"simplecnn compare-train --config {Path('c.config').resolve()} --data {Path('d.mat').resolve()} "
                    f"'--options=-s 1 -iter_max 2' --seed 3 --no-floor --rtol 1e-07")
    s = subparser("sweep").parse_args(["--repo", "r.bundle", "--config", "a.config", "--config", "b.config",
                                       "--seed", "0", "--instances", "8"])
    assert sweep.reproduce_command(s) == (f"simplecnn sweep --repo {Path('r.bundle').resolve()} --config "
                                          f"{Path('a.config').resolve()} --config {Path('b.config').resolve()} "
                                          f"--instances 8")


# --- thin commands ---------------------------------------------------------------------

def run_bodies():
    for name, module in COMMANDS.items():
        tree = ast.parse((REPO / "simplecnn_cli" / f"{module}.py").read_text())
        yield name, next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "run")


def fat(run):
    """What makes ``run`` more than parse-and-call: loops, conditions, with
    blocks, or more than imports, one assignment and ``return CALL``."""
    kinds = [type(n).__name__ for n in run.body]
    work = [k for k in kinds if k not in ("Import", "ImportFrom", "Expr")]
    problems = sorted({"For", "While", "If", "With", "Try"} & set(kinds))
    if not work or work[-1] != "Return" or len(work) > 3:
        problems.append(f"statements {work}")
    return problems


@pytest.mark.parametrize("name, run", list(run_bodies()))
def test_run_parses_nothing_more_and_makes_one_call(name, run):
    assert fat(run) == [], name


def test_the_checker_catches_a_fat_run():
    loop = ast.parse("def run(args):\n    for x in args:\n        print(x)\n    return 0\n").body[0]
    assert fat(loop) == ["For"]
    chain = ast.parse("def run(args):\n    a = 1\n    b = 2\n    c = 3\n    return a\n").body[0]
    assert fat(chain) == ["statements ['Assign', 'Assign', 'Assign', 'Return']"]


def test_port_only_workflows_load_no_heavy_dependency():
    """gradient, train and predict start without Octave's bridge, matplotlib or tqdm."""
    code = ("import sys\n"
            "import simplecnn_cli.gradient, simplecnn_cli.train, simplecnn_cli.predict\n"
            "import simplecnn_harness.workflows.gradient, simplecnn_harness.workflows.train\n"
            "import simplecnn_harness.workflows.predict, simplecnn_harness.reports.progress\n"
            "print(sorted(m for m in ('oct2py', 'matplotlib', 'tqdm', 'simplecnn_harness.octave') "
            "if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
