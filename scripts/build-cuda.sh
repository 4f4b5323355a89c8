#!/usr/bin/env bash
# Builds `alro` and the train_step bench with candle's CUDA backend on a machine without a GPU
# (nvcc from PyPI wheels, see docs/TRAINING.md), for a GPU machine whose driver may know an
# older CUDA than the 13.4 toolkit.
#   bash scripts/build-cuda.sh [PTX_ISA]
# PTX_ISA (default 9.0, what CUDA 13.0 drivers such as 580.x accept): candle embeds its kernels
# as PTX, which the driver JIT-compiles at run time and refuses when the PTX ISA is newer than
# itself. nvcc 13.4 writes ISA 9.4; the kernels use nothing newer than 9.0 (ptxas accepts them
# relabelled), so the `.version` line is lowered and the crates that embed them are rebuilt.
# First build ~16 minutes (candle's quantized kernels); output in $CARGO_TARGET_DIR (target-cuda).
set -euo pipefail
cd "$(dirname "$0")/.."
isa=${1:-9.0}
set -- # a sourced script sees our arguments: cuda13-env.sh would take $1 for its install folder
# shellcheck disable=SC1091
source ../shared/tools/cuda13-env.sh
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target-cuda}
cargo build --locked --release -p alro-trainer --features cuda
relabelled=0
for f in "$CARGO_TARGET_DIR"/release/build/candle-kernels-*/out/*.ptx; do
  if ! grep -qx "\.version $isa" "$f"; then
    sed -i "s/^\.version [0-9.]*\$/.version $isa/" "$f"
    relabelled=1
  fi
done
if [ "$relabelled" = 1 ]; then
  cargo build --locked --release -p alro-trainer --features cuda
fi
cargo bench --locked --no-run -p alro-trainer --bench train_step --features cuda
echo "built $CARGO_TARGET_DIR/release/alro (PTX ISA $isa)"
