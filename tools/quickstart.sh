#!/usr/bin/env bash
# README quick start: set up .venv if needed, then run the whole job on generated data.
# Extra arguments go to tools/quickstart.py (e.g. --work-dir, --preset ci).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup_env.sh
VENV=${SDC_VENV:-.venv}
exec "$VENV/bin/python" tools/quickstart.py "$@"
