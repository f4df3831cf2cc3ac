#!/usr/bin/env bash
# Make (or refresh) the project's virtual environment: .venv in the repository, or $SDC_VENV.
# Safe to run any number of times: pip skips what is already satisfied, and a stamp file
# skips pip entirely while requirements*.txt and pyproject.toml are unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${SDC_VENV:-.venv}
PY=${PYTHON_FOR_VENV:-python3}

if [ ! -x "$VENV/bin/python" ]; then
    echo "[setup] creating virtual environment $VENV"
    "$PY" -m venv "$VENV"
fi
stamp="$VENV/.sdc_requirements.sha256"
want=$(cat requirements.txt requirements/*.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && "$VENV/bin/python" -c 'import sdc_mmaction' 2>/dev/null; then
    echo "[setup] environment $VENV is up to date"
    exit 0
fi
echo "[setup] installing requirements into $VENV (about a minute on a fresh machine)"
"$VENV/bin/python" -m pip install --disable-pip-version-check -q -r requirements.txt
# --no-deps: the requirements above are the whole, pinned dependency set.
"$VENV/bin/python" -m pip install --disable-pip-version-check -q --no-deps -e .
"$VENV/bin/python" -m pip check
echo "$want" > "$stamp"
echo "[setup] done: $("$VENV/bin/python" -c 'import torch, mmaction, mmengine; print("torch", torch.__version__, "mmengine", mmengine.__version__, "mmaction2", mmaction.__version__)')"
