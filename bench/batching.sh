#!/usr/bin/env bash
# Images per second of `diffusiond serve` with 1, 2 and 4 concurrent clients (each keeping one
# request in flight), every job alone (--max-batch 1) against queued jobs batched
# (--max-batch BATCH), ROUNDS rounds in alternating order, a fresh server per cell.
#   bench/batching.sh [OUT_DIR] [BINARY]
# (default bench/results/batching/run-<commit>, build/diffusiond). Environment: MODELS_DIR
# (models), MODEL (diffusiond-scenes), SIZE (64), STEPS (20), SAMPLER (Euler a), IMAGES (images
# per cell, split over the clients: 56), ROUNDS (3), BATCH (4), CONCURRENCY ("1 2 4"), PYTHON
# (.venv/bin/python). Writes OUT_DIR/cells.jsonl (one line per cell: images/s, latencies,
# which jobs ran batched, the load average before and after), OUT_DIR/conditions.txt and
# OUT_DIR/summary.md (the table of bench/README.md).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source-path=SCRIPTDIR source=../tests/lib/serve.sh
source tests/lib/serve.sh

out="${1:-bench/results/batching/run-$(git rev-parse --short HEAD)}"
binary=$(realpath "${2:-build/diffusiond}")
models=$(realpath "${MODELS_DIR:-models}")
model="${MODEL:-diffusiond-scenes}"
size="${SIZE:-64}"
steps="${STEPS:-20}"
sampler="${SAMPLER:-Euler a}"
images="${IMAGES:-56}"
rounds="${ROUNDS:-3}"
batch="${BATCH:-4}"
read -r -a concurrency_levels <<<"${CONCURRENCY:-1 2 4}"
python="${PYTHON:-$root/.venv/bin/python}"

mkdir -p "$out"
cells="$out/cells.jsonl"
: >"$cells"
work=$(mktemp -d "${TMPDIR:-/tmp}/dd_batching.XXXXXX")
server_pid=""
trap client_test_cleanup EXIT  # tests/lib/serve.sh: stops $server_pid, removes $work

load1() { cut -d' ' -f1 /proc/loadavg; }

# run_cell ROUND CONCURRENCY MAX_BATCH: one fresh server, the clients, one line in cells.jsonl.
run_cell() {
  local round="$1" concurrency="$2" max_batch="$3"
  local name="c${concurrency}-b${max_batch}-r${round}"
  rm -rf "$work/data" && mkdir -p "$work/data"
  start_server "$binary" "$models" "$work" "$model" --max-batch "$max_batch"
  local before result
  before=$(load1)
  result=$("$python" bench/batching_clients.py run "$base" --concurrency "$concurrency" \
    --jobs-per-client $((images / concurrency)) --width "$size" --height "$size" \
    --steps "$steps" --sampler "$sampler" --label "$name")
  local after
  after=$(load1)
  kill "$server_pid"
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
  # Which jobs ran together, from the job records (warm-up jobs included).
  local groups
  groups=$("$python" bench/batching_clients.py batches "$work/data/diffusiond.db")
  "$python" - "$result" "$groups" "$max_batch" "$round" "$before" "$after" "$model" \
    <<'PY' >>"$cells"
import json, sys
cell = json.loads(sys.argv[1])
cell.update(json.loads(sys.argv[2]))
cell.update(max_batch=int(sys.argv[3]), round=int(sys.argv[4]), load_before=float(sys.argv[5]),
            load_after=float(sys.argv[6]), model=sys.argv[7])
print(json.dumps(cell))
PY
  echo "$name: $(tail -n 1 "$cells" | "$python" -c 'import json,sys; c=json.load(sys.stdin); print(c["images_per_second"], "images/s,", c["batched_jobs"], "jobs in batches, load", c["load_before"], "->", c["load_after"])')"
}

{
  echo "commit $(git rev-parse --short HEAD), $(nproc) cores, model $model ${size}x${size}," \
    "$steps steps, $sampler, cfg 7, $images images per cell, --max-batch 1 vs $batch"
  echo "start: $(uptime)"
} | tee "$out/conditions.txt"
for round in $(seq "$rounds"); do
  for concurrency in "${concurrency_levels[@]}"; do
    # Alternate which mode goes first, so a drift in the machine's load hits both alike.
    if (((round + concurrency) % 2)); then order=(1 "$batch"); else order=("$batch" 1); fi
    for max_batch in "${order[@]}"; do
      run_cell "$round" "$concurrency" "$max_batch"
    done
  done
done
echo "end: $(uptime)" | tee -a "$out/conditions.txt"
"$python" bench/batching_clients.py summarize "$cells" | tee "$out/summary.md"
