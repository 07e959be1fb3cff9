#!/usr/bin/env bash
# Build and install mmcv 2.1.0 with its compiled ops for the torch in $PY's
# environment, unless a working one is already there.
#
# mmcv 2.1.0 has no wheels for current torch, so it is built from its PyPI
# source: 12-30 minutes on 2 cores, printed as "[n/77]" steps (the full
# compiler log goes to $LOG). The wheel is kept in $WHEEL_CACHE under a name
# that includes the torch version, so a later install against the same torch
# (a fresh clone, CI on the same machine) takes seconds. Measured: 694 s for
# the whole build on 2 cores that also ran a few tests, 419 s on another
# machine's 2 idle cores.
#
# mmcv 2.1.0's setup.py compiles with -std=c++17; the headers of torch >= 2.14
# need C++20, so for those the flag in the unpacked source is raised to
# -std=c++20 before building (nothing else is changed).
#   PY=.venv/bin/python tools/misc/install_mmcv.sh
set -euo pipefail
PY=${PY:-python}
# the build runs inside the unpacked source, so a relative interpreter path
# (PY=.venv/bin/python, as the Makefile passes it) is made absolute here;
# only its folder is resolved, not the venv's symlinked interpreter itself
case "$PY" in
  /*) ;;
  */*) PY="$(cd "$(dirname "$PY")" && pwd)/$(basename "$PY")" ;;
esac
MMCV_VERSION=${MMCV_VERSION:-2.1.0}
LOG=${LOG:-build/mmcv-build.log}
WHEEL_CACHE=${WHEEL_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/kdtools/wheels}

ops_load() { "$PY" -c "import mmcv._ext" 2>/dev/null; }

if "$PY" - "$MMCV_VERSION" <<'PYEOF' 2>/dev/null
import sys
from importlib import metadata
assert metadata.version('mmcv') == sys.argv[1]
import mmcv._ext  # the compiled ops load against this torch
PYEOF
then
  echo "mmcv $MMCV_VERSION with compiled ops is installed"
  exit 0
fi

# mmcv's own dependencies (wheels)
"$PY" -m pip install -q addict mmengine==0.10.7 numpy packaging Pillow pyyaml \
  yapf opencv-python

read -r TORCH_VERSION CXX_STD CUDA_OK < <("$PY" - <<'PYEOF'
import torch
from packaging.version import Version
v = torch.__version__
std = 'c++20' if Version(v.split('+')[0]) >= Version('2.14') else 'c++17'
print(v, std, int(torch.cuda.is_available()))
PYEOF
)
FORCE_CUDA=${FORCE_CUDA:-$CUDA_OK}
TAG="torch${TORCH_VERSION//+/_}-cuda${FORCE_CUDA}"
PYTAG=cp$("$PY" -c 'import sys; print(f"{sys.version_info[0]}{sys.version_info[1]}")')
CACHE_DIR="$WHEEL_CACHE/$TAG"
CACHED=$(ls "$CACHE_DIR"/mmcv-"$MMCV_VERSION"-"$PYTAG"-*.whl 2>/dev/null | head -n 1 || true)

if [ -n "$CACHED" ]; then
  echo "installing mmcv $MMCV_VERSION built earlier for torch $TORCH_VERSION ($CACHED)"
  "$PY" -m pip install -q --no-deps --force-reinstall "$CACHED"
  if ops_load; then exit 0; fi
  echo "that wheel's ops do not load; rebuilding"
fi

mkdir -p "$(dirname "$LOG")"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
echo "fetching the mmcv $MMCV_VERSION source"
"$PY" -m pip download -q --no-deps --no-binary mmcv --no-build-isolation \
  "mmcv==$MMCV_VERSION" -d "$WORK" >>"$LOG" 2>&1
tar -xzf "$WORK"/mmcv-"$MMCV_VERSION".tar.gz -C "$WORK"
SRC="$WORK/mmcv-$MMCV_VERSION"
if [ "$CXX_STD" = "c++20" ]; then
  sed -i "s/extra_compile_args\['cxx'\] = \['-std=c++17'\]/extra_compile_args['cxx'] = ['-std=c++20']/" "$SRC/setup.py"
  grep -q "'-std=c++20'" "$SRC/setup.py" || { echo "could not set -std=c++20 in mmcv's setup.py" >&2; exit 1; }
fi

echo "building mmcv $MMCV_VERSION with ops for torch $TORCH_VERSION (-std=$CXX_STD, FORCE_CUDA=$FORCE_CUDA; log: $LOG)"
start=$(date +%s)
set +e
(cd "$SRC" && MMCV_WITH_OPS=1 FORCE_CUDA=$FORCE_CUDA MAX_JOBS=${MAX_JOBS:-$(nproc)} \
  "$PY" -m pip wheel -v --no-build-isolation --no-deps . -w "$WORK/dist") 2>&1 \
  | tee -a "$LOG" \
  | grep --line-buffered -E '^\s*\[[0-9]+/[0-9]+\]|^Successfully|^ERROR|error:' \
  | sed -u -E "s#^\s*(\[[0-9]+/[0-9]+\]).* -c ([^ ]*/)?([^ /]+\.(cpp|cu)).*#  mmcv build \1 \3#"
status=${PIPESTATUS[0]}
set -e
if [ "$status" -ne 0 ]; then
  echo "mmcv build failed (exit $status); the last lines of $LOG:" >&2
  tail -n 30 "$LOG" >&2
  exit "$status"
fi
mkdir -p "$CACHE_DIR"
cp "$WORK"/dist/mmcv-*.whl "$CACHE_DIR/"
CACHED=$(ls "$CACHE_DIR"/mmcv-"$MMCV_VERSION"-"$PYTAG"-*.whl | head -n 1)
"$PY" -m pip install -q --no-deps --force-reinstall "$CACHED"
ops_load || { echo "mmcv installed but its ops do not load: $("$PY" -c 'import mmcv._ext' 2>&1 | tail -1)" >&2; exit 1; }
echo "mmcv $MMCV_VERSION built and installed in $(( $(date +%s) - start ))s (wheel kept in $CACHED)"
