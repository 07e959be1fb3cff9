#!/usr/bin/env bash
# Distributed training with torchrun: gloo on CPU, nccl on GPU (chosen by
# tools/train.py from what the machine has).
#   tools/dist_train.sh CONFIG NPROC [train.py options...]
#   NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 tools/dist_train.sh CONFIG 8
set -euo pipefail
if [ $# -lt 2 ] || [ "$1" = "--help" ] || [ "$1" = "-h" ]; then
  echo "usage: $0 CONFIG NPROC [tools/train.py options]"
  echo "Runs tools/train.py in NPROC processes per node with torchrun"
  echo "(gloo on CPU, nccl on GPU). Env: NNODES NODE_RANK MASTER_ADDR PORT PYTHON"
  exit 0
fi
CONFIG=$1
NPROC=$2
shift 2
PYTHON=${PYTHON:-python}
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
DIR=$(cd "$(dirname "$0")" && pwd)
exec "$PYTHON" -m torch.distributed.run \
  --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
  --nproc_per_node="$NPROC" --master_port="$PORT" \
  "$DIR/train.py" "$CONFIG" --launcher pytorch "$@"
