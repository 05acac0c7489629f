#!/usr/bin/env bash
# Installs everything, then runs the default (fast) test suite. Extra arguments go to pytest,
# e.g. `bash scripts/test.sh -m slow` for the slow tests. Tests run in TEST_WORKERS (default 2)
# pytest-xdist processes: most of a test's time is single-threaded graph building and tracing, so two
# workers use both cores; TEST_WORKERS=0 runs in one process.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export TF_CPP_MIN_LOG_LEVEL=2
if [ $# -eq 0 ]; then set -- -m "not slow"; fi
exec .venv/bin/python -m pytest -n "${TEST_WORKERS:-2}" --dist worksteal --durations=15 "$@"
