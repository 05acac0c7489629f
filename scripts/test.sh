#!/usr/bin/env bash
# Installs everything, then runs the default (fast) test suite, then its backend-portable part (marker
# `jax`: the zoo's forward passes, training) again under KERAS_BACKEND=jax. Extra arguments go to pytest
# instead, e.g. `bash scripts/test.sh -m slow` for the slow tests. Tests run in TEST_WORKERS (default 2)
# pytest-xdist processes: most of a test's time is single-threaded graph building and tracing, so two
# workers use both cores; TEST_WORKERS=0 runs in one process.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export TF_CPP_MIN_LOG_LEVEL=2
PYTEST=(.venv/bin/python -m pytest -n "${TEST_WORKERS:-2}" --dist worksteal --durations=15)
if [ $# -gt 0 ]; then exec "${PYTEST[@]}" "$@"; fi
"${PYTEST[@]}" -m "not slow"
echo "== the backend-portable tests again under KERAS_BACKEND=jax"
KERAS_BACKEND=jax "${PYTEST[@]}" -m "jax and not slow"
