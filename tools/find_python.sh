# Sourced by the tools/*.sh launchers: pick the interpreter.
# $PYTHON wins; else an active virtual environment or conda env (`python` on PATH); else the
# repository's own .venv made by tools/setup_env.sh; else `python3`.
if [ -z "${PYTHON:-}" ]; then
    _repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    if [ -n "${VIRTUAL_ENV:-}${CONDA_PREFIX:-}" ] && command -v python >/dev/null 2>&1; then
        PYTHON=python
    elif [ -x "$_repo_root/.venv/bin/python" ]; then
        PYTHON="$_repo_root/.venv/bin/python"
    elif command -v python >/dev/null 2>&1; then
        PYTHON=python
    else
        PYTHON=python3
    fi
fi
