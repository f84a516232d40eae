"""The pytest plugin, as a user's suite meets it: a tiny test file using the
``simplecnn_trace`` fixture over a folder of traces (two good, one recorded
from a copy of matlab_ref/seed with a sign error at layer 2), run by pytest
in a subprocess (the plugin found through the package's entry point): one
test per trace, the bad one failing with the stage named, JUnit XML."""
from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import needs_octave

pytestmark = needs_octave
pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[3]
SEED = REPO / "matlab_ref" / "seed"
NONSQUARE = SEED / "config" / "small-nonsquare.config"
SQUARE = ("L = 3;\nLC = 2;\nLF = 1;\nht_input = 8;\nwd_input = 8;\nch_input = [2,3,4];\n"
          "wd_pad_added = [1,1];\nwd_filter = [3,3];\nstrides = [1,1];\nwd_subimage_pool = [2,2];\n"
          "full_neurons = [3];\n")

USER_TEST = """
def test_parity(simplecnn_trace):
    simplecnn_trace.check()
"""
# the fixture alone: checked when the body returns
BARE_TEST = """
def test_parity(simplecnn_trace):
    ...
"""
# the result for one's own assertions: no second check
OWN_TEST = """
def test_parity(simplecnn_trace):
    res = simplecnn_trace.compare()
    assert res.first_divergence == {"layer": 2, "direction": "backward", "stage": "WtDelta"}
"""


@pytest.fixture(scope="module")
def trace_dir(tmp_path_factory):
    from simplecnn_harness.compare import Options
    from simplecnn_harness.traces.record import record

    base = tmp_path_factory.mktemp("plugin")
    good = base / "traces"
    good.mkdir()
    record(Options(config=str(NONSQUARE), instances=4), good / "nonsquare.mat")
    record(Options(config=str(NONSQUARE), instances=3, precision="single"), good / "single.mat")
    sign = base / "sign"
    shutil.copytree(SEED, sign)
    f = sign / "cnn" / "lossgrad_subset.m"
    f.write_text(f.read_text().replace("V = model.weight{m}'*dXidS;",
                                       "V = (1 - 2*(m == 2))*model.weight{m}'*dXidS;"))
    bad = base / "bad"
    bad.mkdir()
    square = base / "square.config"
    square.write_text(SQUARE)
    record(Options(matlab_dir=str(sign), config=str(square), instances=4), bad / "sign_error.mat")
    return good, bad


def test_good_traces_pass_one_test_each(pytester, trace_dir):
    good, _ = trace_dir
    import numpy as np
    import scipy.io

    scipy.io.savemat(good / "data.mat", {"y": np.ones((2, 1)), "Z": np.zeros((2, 4))})   # not a trace
    pytester.makepyfile(test_user=USER_TEST)
    res = pytester.runpytest_subprocess("--simplecnn-traces", str(good), "-v", "-p", "no:cacheprovider")
    res.assert_outcomes(passed=2)
    res.stdout.fnmatch_lines(["*test_parity?nonsquare? PASSED*", "*test_parity?single? PASSED*"])


def test_a_bad_trace_fails_naming_the_stage_with_junit_xml(pytester, trace_dir):
    good, bad = trace_dir
    pytester.makepyfile(test_user=USER_TEST)
    (pytester.path / "pytest.ini").write_text(f"[pytest]\nsimplecnn_traces = {good}\n")
    junit = pytester.path / "junit.xml"
    res = pytester.runpytest_subprocess(f"--simplecnn-traces={bad}", f"--junitxml={junit}",
                                        "-p", "no:cacheprovider")
    res.assert_outcomes(passed=2, failed=1)
    text = res.stdout.str()
    assert "sign_error.mat: FAIL" in text and "first divergence at layer 2, backward, WtDelta" in text
    assert "reproduce: simplecnn compare --trace" in text
    assert "Traceback" not in text
    cases = ET.parse(junit).getroot().iter("testcase")
    failed = {c.get("name"): c.find("failure") for c in cases}
    assert set(failed) == {"test_parity[nonsquare]", "test_parity[single]", "test_parity[sign_error]"}
    msg = failed["test_parity[sign_error]"].get("message")
    assert "first divergence at layer 2, backward, WtDelta" in msg
    assert failed["test_parity[nonsquare]"] is None


def test_no_traces_named_skips_with_the_reason(pytester):
    pytester.makepyfile(test_user=USER_TEST)
    res = pytester.runpytest_subprocess("-rs", "-p", "no:cacheprovider")
    res.assert_outcomes(skipped=1)
    pytester.makepyfile(test_user=USER_TEST)
    res = pytester.runpytest_subprocess("--simplecnn-traces", str(pytester.path / "nowhere"))
    assert res.ret != 0 and "neither a folder nor a file" in res.stderr.str()


def test_the_fixture_alone_is_a_parity_test(pytester, trace_dir):
    good, bad = trace_dir
    pytester.makepyfile(test_user=BARE_TEST)
    res = pytester.runpytest_subprocess(f"--simplecnn-traces={good}", f"--simplecnn-traces={bad}",
                                        "-p", "no:cacheprovider")
    res.assert_outcomes(passed=2, failed=1)
    res.stdout.fnmatch_lines(["*sign_error.mat: FAIL*first divergence at layer 2, backward, WtDelta*"])
    pytester.makepyfile(test_user=OWN_TEST)
    res = pytester.runpytest_subprocess(f"--simplecnn-traces={bad}", "-p", "no:cacheprovider")
    res.assert_outcomes(passed=1)
