#!/bin/sh
# Smoke test of the built Linux app (dist/fracture-triage) against the source install (.venv):
# --version, info, a scan of JPEG/PNG/compressed-DICOM files compared with the source's probabilities
# (within 1e-5; a file the bundle cannot decode = a missing plugin = FAIL), the GUI started offscreen
# with --quit-after-scan, and the start-up time. Exit status 0 only when every step passes.
#   python packaging/build.py && sh packaging/smoke_test.sh
#   sh packaging/smoke_test.sh --bench 1000    # also frozen vs source scan speed on 1000 FracAtlas images
#   sh packaging/smoke_test.sh --drop-caches   # root: a truly cold first start
#   sh packaging/smoke_test.sh --help          # other options (--bundle, --model, --json, --keep)
set -eu
cd "$(dirname "$0")/.."
PY=.venv/bin/python
[ -x "$PY" ] || { echo "smoke_test.sh: no source install in .venv (sh packaging/linux/setup.sh --test)" >&2; exit 1; }
exec "$PY" packaging/smoke.py "$@"
