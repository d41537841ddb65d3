#!/usr/bin/env bash
# Runs `diffusiond bench` on the full-size presets and keeps each JSON report, named after the
# commit, for comparing runs over time (bench/compare.py OLD.json NEW.json).
#   bench/full_size.sh [OUT_DIR] [BINARY]
# Default set: SD 1.5 at 512x512 in bf16 and fp32, SDXL at 1024x1024 in bf16. SDXL in fp32
# (a minute per guided step, 14 GB) only with DD_BENCH_SDXL_FP32=1. Extra `bench` options
# (e.g. --runs 5 --steps 10) come from DD_BENCH_ARGS.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-out/bench}"  # /out/ is ignored by git
binary="${2:-build/diffusiond}"
mkdir -p "$out"
commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
configs=("sd15 512 bf16" "sd15 512 fp32" "sdxl 1024 bf16")
if [[ "${DD_BENCH_SDXL_FP32:-0}" == 1 ]]; then configs+=("sdxl 1024 fp32"); fi
for config in "${configs[@]}"; do
  read -r arch size dtype <<<"$config"
  report="$out/$commit-$arch-${size}-$dtype.json"
  echo "bench: $arch ${size}x$size $dtype -> $report" >&2
  # shellcheck disable=SC2086  # DD_BENCH_ARGS is a list of options
  "$binary" bench --arch "$arch" --width "$size" --height "$size" --dtype "$dtype" --json \
    ${DD_BENCH_ARGS:-} >"$report"
done
