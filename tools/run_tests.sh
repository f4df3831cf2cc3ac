#!/usr/bin/env bash
# The project's test command: sets up .venv if needed, then runs the whole suite (the core
# tests and every project's tests).
# Extra arguments go to pytest (e.g. `bash tools/run_tests.sh -k transforms`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup_env.sh
VENV=${SDC_VENV:-.venv}
# two worker processes (pytest-xdist; SDC_TEST_WORKERS=0 runs in this process)
exec "$VENV/bin/python" -m pytest tests projects -q -n "${SDC_TEST_WORKERS:-2}" "$@"
