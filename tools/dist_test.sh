#!/usr/bin/env bash
# Distributed evaluation with torchrun (gloo on CPU, nccl on GPU).
#   tools/dist_test.sh CONFIG CHECKPOINT NPROC [test.py options...]
set -euo pipefail
if [ $# -lt 3 ] || [ "$1" = "--help" ] || [ "$1" = "-h" ]; then
  echo "usage: $0 CONFIG CHECKPOINT NPROC [tools/test.py options]"
  echo "Runs tools/test.py in NPROC processes per node with torchrun"
  echo "(gloo on CPU, nccl on GPU). Env: NNODES NODE_RANK MASTER_ADDR PORT PYTHON"
  exit 0
fi
CONFIG=$1
CHECKPOINT=$2
NPROC=$3
shift 3
PYTHON=${PYTHON:-python}
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
DIR=$(cd "$(dirname "$0")" && pwd)
exec "$PYTHON" -m torch.distributed.run \
  --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
  --nproc_per_node="$NPROC" --master_port="$PORT" \
  "$DIR/test.py" "$CONFIG" "$CHECKPOINT" --launcher pytorch "$@"
