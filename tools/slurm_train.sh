#!/usr/bin/env bash
# Training on a Slurm cluster, one task per GPU.
#   GPUS=8 tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py options]
set -euo pipefail
if [ $# -lt 4 ] || [ "$1" = "--help" ] || [ "$1" = "-h" ]; then
  echo "usage: GPUS=8 $0 PARTITION JOB_NAME CONFIG WORK_DIR [tools/train.py options]"
  echo "Runs tools/train.py under srun with --launcher slurm."
  echo "Env: GPUS GPUS_PER_NODE CPUS_PER_TASK SRUN_ARGS PYTHON"
  exit 0
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
WORK_DIR=$4
shift 4
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-}
PYTHON=${PYTHON:-python}
DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck disable=SC2086
srun -p "$PARTITION" --job-name="$JOB_NAME" --gres=gpu:"$GPUS_PER_NODE" \
  --ntasks="$GPUS" --ntasks-per-node="$GPUS_PER_NODE" \
  --cpus-per-task="$CPUS_PER_TASK" --kill-on-bad-exit=1 $SRUN_ARGS \
  "$PYTHON" -u "$DIR/train.py" "$CONFIG" --work-dir="$WORK_DIR" \
  --launcher=slurm "$@"
