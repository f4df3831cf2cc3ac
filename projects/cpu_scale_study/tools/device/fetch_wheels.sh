#!/usr/bin/env bash
# Download, on a machine with network access, the wheels that a GPU machine without network access lacks
# (projects/cpu_scale_study/tools/device/requirements-device.txt) into .whl/ at the repository root (git-ignored),
# built for that machine's Python 3.12 on x86-64. About 47 MB.
#   bash projects/cpu_scale_study/tools/device/fetch_wheels.sh
# The `device` tool then carries them: run(..., carry=[".whl"]); projects/cpu_scale_study/tools/device/run_sweep.sh
# installs them there.
set -euo pipefail
cd "$(dirname "$0")/../../../.."  # the repository root
source tools/find_python.sh
"$PYTHON" -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux2010_x86_64 \
    --platform manylinux1_x86_64 -d .whl -r projects/cpu_scale_study/tools/device/requirements-device.txt
ls -l .whl
