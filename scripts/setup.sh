#!/usr/bin/env bash
# Set up simplecnn_py on a fresh Debian machine: GNU Octave with OpenBLAS
# (Debian's packages) and the Python package in ./.venv.
# With --test: also Debian's chromium, which the tests use to load the HTML
# reports in a real (headless) browser (they skip, saying so, without it).
# Idempotent: packages already present are not installed again.
set -euo pipefail
cd "$(dirname "$0")/.."

with_browser=0
for arg in "$@"; do
  case "$arg" in
    --test) with_browser=1 ;;
    *) echo "setup: unknown option $arg (use --test to install the test tools too)" >&2; exit 2 ;;
  esac
done

need=()
command -v octave-cli >/dev/null 2>&1 || need+=(octave)
dpkg -s libopenblas0-pthread >/dev/null 2>&1 || need+=(libopenblas0-pthread)
if [ "$with_browser" = 1 ]; then
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
fi
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "setup: installing ${need[*]} from Debian's packages" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
# --test: also the optional extras [torch] (a CPU wheel, pinned) and [onnx], so
# that the suite tests simplecnn export / import
extras=test
if [ "$with_browser" = 1 ]; then extras=test,torch,onnx; fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[$extras]" 2>&1 \
  | grep -v "is ignored: it is neither a file nor a directory" || true
# byte-compile now: an editable install leaves that to the first import, which
# never writes the cache when PYTHONDONTWRITEBYTECODE is set (every run then
# compiles the package again, ~40 ms of each simplecnn process)
.venv/bin/python -m compileall -q simplecnn_py simplecnn_cli simplecnn_harness simplecnn_bench simplecnn_interop >/dev/null
.venv/bin/python -c "import simplecnn_py, simplecnn_harness"
echo "setup: ready (.venv/bin/simplecnn)" >&2
