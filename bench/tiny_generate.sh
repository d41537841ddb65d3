#!/usr/bin/env bash
# Time per image of the fp32 and bf16 paths on a model (default: the tiny SD 1.5 fixture), as
# medians of repeated runs measured in the same session, and their ratio.
#   bench/tiny_generate.sh [MODEL] [SIZE] [STEPS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
model="${1:-../shared/fixtures/models/sd15-tiny}"
size="${2:-64}"
steps="${3:-20}"
runs="${4:-5}"
out="$(mktemp -d)"
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for dtype in fp32 bf16; do
  for i in $(seq "$runs"); do
    build/diffusiond generate --model "$model" --prompt "a red circle on a blue background" \
      --width "$size" --height "$size" --steps "$steps" --sampler euler --seed "$i" \
      --dtype "$dtype" -o "$out/x.png" 2>&1 >/dev/null | sed -n 's/.*generated in \([0-9.]*\) s/\1/p'
  done | median > "$out/$dtype"
  echo "$dtype: $(cat "$out/$dtype") s per image (${size}x${size}, $steps steps, cfg on, median of $runs)"
done
echo "bf16/fp32 time ratio: $(awk -v a="$(cat "$out/bf16")" -v b="$(cat "$out/fp32")" 'BEGIN {printf "%.2f", a / b}')"
rm -rf "$out"
