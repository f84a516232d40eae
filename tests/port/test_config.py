"""read_config: the simpleNN config format parsed without executing anything.

Oracles: Octave's own ``eval`` of the same lines (the original's reader), the
size formulas of init_model (matlab_ref/seed/cnn/init_model.m), and hand-written expectations for each bad input.
"""
import re
import subprocess
import textwrap
import warnings

import pytest

from simplecnn_py.support.conventions import cell
from simplecnn_py.support.errors import InputError
from simplecnn_py.cnn.read_config import ConfigWarning, layer_sizes, read_config, weight_shapes

from conftest import needs_octave

GOOD = """\
% 3-layer MNIST demo shape
L = 4;
LC = 3;
ht_input = 28;
wd_input = 28;
ch_input = [1,16,16,32];
wd_pad_added = [2,1,1];
wd_filter = [5,3,3];
strides = [1,1,1];
wd_subimage_pool = [2,2,2];
full_neurons = [10];
"""


def write(tmp_path, text, name="c.config"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def replace(key, new):
    """GOOD with the line of ``key`` replaced by ``new`` (None: removed)."""
    out = []
    for line in GOOD.splitlines():
        if line.split("=")[0].strip() == key:
            if new is not None:
                out.append(new)
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def test_good_config_values(tmp_path):
    param = read_config(write(tmp_path, GOOD))
    assert (param.L, param.LC, param.LF, param.nL) == (4, 3, 1, 10)
    assert (param.ht_input, param.wd_input) == (28, 28)
    assert param.ch_input == cell([1, 16, 16, 32])
    assert param.ch_input[1] == 1 and param.ch_input[4] == 32
    assert param.wd_pad_added == cell([2, 1, 1])
    assert param.wd_filter == cell([5, 3, 3])
    assert param.strides == cell([1, 1, 1])
    assert param.wd_subimage_pool == cell([2, 2, 2])
    assert param.full_neurons == cell([10])
    assert param.precision == "double"
    assert all(type(v) is int for v in param.ch_input)


def test_syntax_variants(tmp_path):
    """Blanks or commas, columns, trailing comments, missing ';', several
    assignments a line, '...' continuations, exponents, a 1-element vector."""
    text = """\
    L = 5; LC = 3   % two on a line, last ';' missing
      % indented comment

    LF=2;
    ht_input = 2.8e1;
    wd_input = [20];
    ch_input = [1 16, 16   32];% comment right after
    wd_pad_added = [2;1;0];
    wd_filter = [5, ...
                 3, 3];
    strides = [1,2,1,];
    wd_subimage_pool = [2 1 1]
    full_neurons = [64, 10];
    """
    param = read_config(write(tmp_path, text))
    assert (param.L, param.LC, param.LF, param.nL) == (5, 3, 2, 10)
    assert (param.ht_input, param.wd_input) == (28, 20)
    assert param.ch_input == cell([1, 16, 16, 32])
    assert param.wd_pad_added == cell([2, 1, 0])
    assert param.wd_filter == cell([5, 3, 3])
    assert param.strides == cell([1, 2, 1])
    assert param.wd_subimage_pool == cell([2, 1, 1])
    assert param.full_neurons == cell([64, 10])


@needs_octave
def test_same_values_as_octave_eval(tmp_path):
    """The original reads the file with eval: Octave's values are ours."""
    text = """\
    % mixed syntax
    L = 5; LC = 3   % two on a line
    LF=2;
    ht_input = 2.8e1;
    wd_input = [24];
    ch_input = [1 8, 6   4];
    wd_pad_added = [2;1;0];
    wd_filter = [5, ...
                 3, 3];
    strides = [1,2,1,];
    wd_subimage_pool = [2 1 1]
    full_neurons = [7, 10];
    """
    cfg = write(tmp_path, text)
    param = read_config(cfg)
    keys = ["L", "LC", "LF", "ht_input", "wd_input", "ch_input", "wd_pad_added", "wd_filter",
            "strides", "wd_subimage_pool", "full_neurons"]
    script = (f"fid = fopen('{cfg}'); s = fread(fid, Inf, 'char=>char')'; fclose(fid); eval(s); "
              + " ".join(f"fprintf('{k}:'); fprintf(' %d', {k}); fprintf('\\n');" for k in keys))
    out = subprocess.run(["octave-cli", "--no-gui", "--quiet", "--eval", script],
                         capture_output=True, text=True, timeout=120).stdout
    octave = {line.split(":")[0]: [int(x) for x in line.split(":")[1].split()]
              for line in out.splitlines() if ":" in line}
    assert set(octave) == set(keys)
    for k in keys:
        ours = getattr(param, k)
        assert (list(ours) if isinstance(ours, cell) else [ours]) == octave[k], k


def test_lf_derived_when_absent(tmp_path):
    param = read_config(write(tmp_path, replace("L", "L = 5;").replace("full_neurons = [10];",
                                                                         "full_neurons = [32, 10];")))
    assert param.LF == 2 and param.nL == 10


def test_sizes_follow_facts_formulas(tmp_path):
    """The layer sizes of init_model, by hand, on a non-square, strided, padded config."""
    text = GOOD.replace("wd_input = 28;", "wd_input = 21;").replace(
        "strides = [1,1,1];", "strides = [2,1,1];").replace(
        "wd_subimage_pool = [2,2,2];", "wd_subimage_pool = [1,3,1];")
    param = read_config(write(tmp_path, text))
    s = layer_sizes(param)
    # layer 1: 28x21 pad 2 -> 32x25, filter 5 stride 2 -> 14x11, pool 1 -> 14x11
    assert (s[0]["ht_pad"], s[0]["wd_pad"], s[0]["ht_conv"], s[0]["wd_conv"]) == (32, 25, 14, 11)
    assert (s[0]["ht_next"], s[0]["wd_next"]) == (14, 11)
    # layer 2: pad 1 -> 16x13, filter 3 -> 14x11, pool 3 -> 4x3
    assert (s[1]["ht_conv"], s[1]["wd_conv"], s[1]["ht_next"], s[1]["wd_next"]) == (14, 11, 4, 3)
    # layer 3: pad 1 -> 6x5, filter 3 -> 4x3, no pool
    assert (s[2]["ht_next"], s[2]["wd_next"]) == (4, 3)
    assert weight_shapes(param) == [(16, 25), (16, 144), (32, 144), (10, 4 * 3 * 32)]


def test_sizes_agree_with_init_model(tmp_path):
    """read_config's checks and init_model compute the same layer sizes."""
    init_model = pytest.importorskip("simplecnn_py.cnn.init_model").init_model
    text = GOOD.replace("wd_input = 28;", "wd_input = 19;").replace("strides = [1,1,1];", "strides = [1,2,1];")
    param = read_config(write(tmp_path, text))
    model = init_model(param, seed=0)
    for m, s in enumerate(layer_sizes(param), start=1):
        assert (model.ht_conv[m], model.wd_conv[m]) == (s["ht_conv"], s["wd_conv"])
        assert (model.ht_input[m + 1], model.wd_input[m + 1]) == (s["ht_next"], s["wd_next"])
    assert [model.weight[m].shape for m in range(1, 5)] == weight_shapes(param)


def test_unknown_key_kept_with_warning(tmp_path):
    with pytest.warns(ConfigWarning) as rec:
        param = read_config(write(tmp_path, GOOD + "\nbsize = 128;\nlr = [0.5 0.25];\n"))
    assert [str(w.message).split(": ", 1)[1] for w in rec] == [
        "line 13: unknown key bsize kept as param.bsize", "line 14: unknown key lr kept as param.lr"]
    assert param.bsize == 128 and param.lr == cell([0.5, 0.25])


def test_repeated_key_is_refused_naming_both_lines(tmp_path):
    """The original's eval would let the last one win; we refuse, one line naming the key and both lines."""
    path = write(tmp_path, GOOD + "wd_input = 28; % again\n")
    with pytest.raises(InputError) as e:
        read_config(path)
    assert e.value.where == str(path)
    assert e.value.what == ("line 12: key wd_input is assigned again (first at line 5); "
                            "a config names each key once")
    assert "\n" not in str(e.value)


def test_repeated_key_on_one_line_and_in_a_continuation(tmp_path):
    with pytest.raises(InputError, match=r"line 12: key lr is assigned again \(first at line 12\)"):
        read_config(write(tmp_path, GOOD + "lr = 3; lr = 2;\n"))
    with pytest.raises(InputError, match=r"line 12: key L is assigned again \(first at line 2\)"):
        read_config(write(tmp_path, GOOD + "L = ...\n 4;\n"))


def test_cli_repeated_key_exit_2_one_line(tmp_path):
    """simplecnn gradient on such a config: exit 2, one line naming file, key, lines; no traceback."""
    import subprocess
    import sys

    cfg = write(tmp_path, GOOD.replace("LC = 3;", "LC = 3;\nLC = 2;"))
    proc = subprocess.run([sys.executable, "-m", "simplecnn_cli", "gradient", "--config", str(cfg),
                           "--data", "nothing.mat", "--out", str(tmp_path / "o.mat")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"simplecnn: error: {cfg}: line 4: key LC is assigned again (first at line 3); a config names each key once"]


def test_good_config_gives_no_warning(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_config(write(tmp_path, GOOD))


def test_code_is_never_executed(tmp_path):
    marker = tmp_path / "executed"
    text = GOOD + f"x = system('touch {marker}');\n"
    with pytest.raises(InputError):
        read_config(write(tmp_path, text))
    assert not marker.exists()


BAD = [
    # (what the file says, expected words in the message)
    (replace("wd_filter", None), r"^missing key wd_filter$"),
    (replace("L", None).replace("full_neurons = [10];", ""), r"^missing keys L, full_neurons$"),
    (replace("ch_input", "ch_input = [1,16,32];"), r"key ch_input \(line 6\): 3 entries, LC\+1 = 4 needed"),
    (replace("wd_filter", "wd_filter = [5,3];"), r"key wd_filter \(line 8\): 2 entries, LC = 3 needed"),
    (replace("full_neurons", "full_neurons = [20,10];"), r"key full_neurons .*2 entries, L-LC = 1 needed"),
    (GOOD.replace("LC = 3;", "LC = 3;\nLF = 2;"), r"key LF \(line 4\): L = 4 but LC \+ LF = 3 \+ 2"),
    (replace("LC", "LC = 4;"), r"key LC .*leaves no fully-connected layer"),
    (replace("ht_input", "ht_input = 28.5;"), r"key ht_input \(line 4\): 28.5 is not an integer"),
    (replace("strides", "strides = [1,-1,1];"), r"key strides \(line 9\), entry 2: -1 must be positive"),
    (replace("wd_pad_added", "wd_pad_added = [2,-1,1];"), r"entry 2: -1 must be >= 0"),
    (replace("wd_subimage_pool", "wd_subimage_pool = [2,0,2];"), r"wd_subimage_pool .*entry 2: 0 must be positive"),
    (replace("ch_input", "ch_input = [1,16,0,32];"), r"ch_input .*entry 3: 0 must be positive"),
    (replace("wd_input", "wd_input = 0;"), r"key wd_input .*0 must be positive"),
    (replace("L", "L = [4 4];"), r"key L .*2 entries; a single number is needed"),
    (replace("ht_input", "ht_input = 1e12;"), r"too large"),
    # sizes that become zero or negative through the layers
    (replace("wd_filter", "wd_filter = [5,3,12];"), r"^layer 3: filter width 12 .*exceeds the padded input 9 x 9"),
    (replace("wd_subimage_pool", "wd_subimage_pool = [2,2,8];"),
     r"^layer 3: pooling width 8 .*exceeds the convolution output 7 x 7"),
    (replace("ht_input", "ht_input = 3;"), r"^layer 2: pooling width 2 .*exceeds the convolution output 1 x 1"),
    # non-numeric and code-like values
    (replace("ht_input", "ht_input = abc;"), r"line 4: ht_input = 'abc' is not a number"),
    (replace("ht_input", "ht_input = system('rm -rf /');"), r"line 4: ht_input = \"system\('rm -rf /'\)\" is not a number"),
    (replace("ch_input", "ch_input = ones(4);"), r"line 6: ch_input = 'ones\(4\)' is not a number"),
    (replace("L", "L = 1+3;"), r"line 2: L = '1\+3' is not a number"),
    (replace("ch_input", "ch_input = [1,16,16,32]';"), r"line 6: .* is not a number"),
    (replace("ch_input", "ch_input = [1,16;16,32];"), r"line 6: .* is a matrix; a vector is needed"),
    (replace("ch_input", "ch_input = [1,16,16,32;"), r"line 6: '\[' is never closed"),
    (replace("ht_input", "ht_input = Inf;"), r"line 4: ht_input = 'Inf' is not a number"),
    (replace("ht_input", "ht_input = '28';"), r"line 4: .* is not a number"),
    (GOOD + "disp(1)\n", r"line 12: 'disp\(1\)' is not a 'name = value;' assignment"),
    (GOOD + "param.L = 4;\n", r"line 12: 'param.L = 4' is not a 'name = value;' assignment"),
    ("", r"^missing keys L, LC, "),
]


@pytest.mark.parametrize("text, message", BAD, ids=[f"bad{k}" for k in range(len(BAD))])
def test_bad_config_one_line_error_naming_file(tmp_path, text, message):
    cfg = tmp_path / "bad.config"
    cfg.write_text(text)
    with pytest.raises(InputError) as e, warnings.catch_warnings():
        warnings.simplefilter("ignore", ConfigWarning)
        read_config(cfg)
    assert e.value.where == str(cfg)
    assert "\n" not in e.value.what
    assert re.search(message, e.value.what), e.value.what


def test_missing_file_directory_and_binary(tmp_path):
    with pytest.raises(InputError, match="no such file") as e:
        read_config(tmp_path / "nope.config")
    assert e.value.where == str(tmp_path / "nope.config")
    with pytest.raises(InputError, match="is a directory"):
        read_config(tmp_path)
    binary = tmp_path / "b.config"
    binary.write_bytes(b"\x00\x01\x02MATLAB")
    with pytest.raises(InputError, match="not a text file"):
        read_config(binary)


def test_windows_line_endings_bom_and_tabs(tmp_path):
    p = tmp_path / "w.config"
    p.write_bytes(b"\xef\xbb\xbf" + GOOD.replace("[1,16,16,32]", "[1,\t16 ,16,32]").replace("\n", "\r\n").encode())
    param = read_config(p)
    assert param.ch_input == cell([1, 16, 16, 32]) and param.L == 4
