#!/usr/bin/env bash
# Run a sweep (projects/cpu_scale_study/tools/sweep.py) on a GPU machine without network access and leave its summary and logs in
# $OUT, which the `device` tool brings back. From this checkout, after
# `bash projects/cpu_scale_study/tools/device/fetch_wheels.sh`:
#   run(command="bash projects/cpu_scale_study/tools/device/run_sweep.sh projects/cpu_scale_study/configs/sweeps/gpu_sweep.py 300 19",
#       carry=[".whl"], timeout_s=480)
# Arguments: SWEEP [DEADLINE_S (default 300)] [MAX_PARALLEL (default 8)]. After DEADLINE_S
# the sweep stops its runs and summarises what they logged, so the command ends in time
# (plus the install, the dataset and packing the logs, a minute or so). Each call runs in
# a new folder under $SWEEP_WORK_DIR (default /tmp/sdc_sweep), beside the dataset, so a
# second call on a still-warm machine starts clean. Elsewhere (no $OUT) the results go to
# work_dirs/device_out.
set -uo pipefail
cd "$(dirname "$0")/../../../.."  # the repository root
SWEEP=${1:?usage: run_sweep.sh SWEEP [DEADLINE_S] [MAX_PARALLEL]}
DEADLINE=${2:-300}
PARALLEL=${3:-8}
OUT=${OUT:-work_dirs/device_out}
BASE=${SWEEP_WORK_DIR:-/tmp/sdc_sweep}
WORK=$BASE/$(date +%Y%m%d_%H%M%S)
PY=${PYTHON:-python3}
mkdir -p "$OUT"

WHEELS=${SDC_DEVICE_WHEELS:-.whl}  # projects/cpu_scale_study/tools/device/fetch_wheels.sh fills it
if compgen -G "$WHEELS/*.whl" >/dev/null; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/sdc_site "$WHEELS"/*.whl || exit 1
    export PYTHONPATH=/tmp/sdc_site${PYTHONPATH:+:$PYTHONPATH}
fi
if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
fi
"$PY" -c 'import torch, mmengine, mmaction, decord, sdc_mmaction
print("torch", torch.__version__, "cuda", torch.cuda.is_available(),
      "mmengine", mmengine.__version__, "mmaction2", mmaction.__version__)' || exit 1

PYTHONUNBUFFERED=1 "$PY" projects/cpu_scale_study/tools/sweep.py "$SWEEP" --work-dir "$WORK" --data-root "$BASE/data" \
    --max-parallel "$PARALLEL" --deadline-s "$DEADLINE" --threads-per-run 1 \
    2>&1 | tee "$OUT/sweep.log"
rc=${PIPESTATUS[0]}
cp "$WORK"/summary.md "$WORK"/summary.json "$OUT"/ 2>/dev/null
# every log and result, without checkpoints or the dataset
tar czf "$OUT/logs.tgz" -C "$WORK" --exclude='*.pth' --exclude='./data' . || rc=1
exit "$rc"
