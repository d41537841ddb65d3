#!/usr/bin/env bash
# Several machines' worth of diffusiond on one: a throwaway PostgreSQL (tests/lib/postgres.sh),
# one API node (`serve --database URL --no-worker`) and three workers (`worker --database URL
# --lease-seconds 3`) sharing one data folder, with the tiny fixture models, and two accounts.
# Then, with check.py doing the HTTP side:
#  1. /ready is 503 naming the missing workers, then 200 once they are up;
#  2. jobs from both accounts; a worker is killed (-9) just after it starts one: its lease
#     expires, another worker runs the job, and every job ends SUCCESS once, with exactly one
#     image object per sample (no second set from the killed worker);
#  2b. a long job cancelled through the API node ends CANCELLED on its worker within seconds;
#  2c. the API node's event stream of a job run on a worker carries its progress events;
#  3. PostgreSQL is stopped while jobs are queued and running: GET and POST answer 503 with
#     Retry-After; once it is back (same data) the nodes recover by themselves and every job
#     accepted before the outage ends SUCCESS;
#  4. a soak of DD_SOAK_SECONDS (default 120): two client loops submit, poll and fetch; no job is
#     lost or stuck, no node dies, image counts match;
#  5. SIGTERM stops every worker cleanly and /ready turns 503 again.
# Usage: run.sh SERVER_BINARY FIXTURES_DIR. Needs PostgreSQL's server programs (scripts/setup
# installs them; without them this fails, it does not skip) and the .venv's requests.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/serve.sh
source "$here/../lib/serve.sh"
# shellcheck source=../lib/postgres.sh
source "$here/../lib/postgres.sh"
client_test_begin multinode requests -- "$@"

lease_seconds=3
soak_seconds="${DD_SOAK_SECONDS:-120}"
outage_seconds="${DD_OUTAGE_SECONDS:-8}"  # longer than two leases: leases lapse meanwhile
declare -A worker_pids=()
state="$work/jobs.jsonl"

print_logs() {
  local log
  for log in "$work"/server.log "$work"/worker-*.log; do
    [[ -f "$log" ]] || continue
    # A line repeated every second while the database is down would hide the rest.
    echo "--- $(basename "$log") (last 150 lines, each distinct line at most 3 times) ---" >&2
    awk '++seen[$0] <= 3 { print } seen[$0] == 4 { print "    (the line above repeats)" }' \
      "$log" | tail -n 150 >&2
  done
  if [[ -n "$pg_dir" && -f "$pg_dir/server.log" ]]; then
    echo "--- PostgreSQL server log (last 50 lines) ---" >&2
    tail -n 50 "$pg_dir/server.log" >&2
  fi
}

# stop_worker ID SIGNAL: signals it and waits up to 60 s for it to end; its exit status is in
# stopped_status (or "hung" when it outlived the wait and was killed).
stop_worker() {
  local id="$1" signal="$2" pid="${worker_pids[$1]}"
  kill "-$signal" "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 60))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
  stopped_status=hung
  if kill -0 "$pid" 2>/dev/null; then
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  else
    stopped_status=0
    wait "$pid" 2>/dev/null || stopped_status=$?
  fi
  unset "worker_pids[$id]"
}

cleanup() {
  local status=$?
  set +e
  if [[ $status -ne 0 ]]; then
    echo "FAIL: multinode test (status $status); the nodes' logs follow" >&2
    print_logs
  fi
  local id
  for id in "${!worker_pids[@]}"; do stop_worker "$id" TERM; done
  client_test_cleanup  # the API node and the work folder
  pg_remove
  exit "$status"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

check() {
  "$python" "$here/check.py" "$@"
}

start_worker() {
  local id="$1" log="$work/worker-$1.log"
  "$server_binary" worker --database "$pg_url" --models-dir "$work/models" \
    --data-dir "$work/data" --default-model sd15-tiny --worker-id "$id" \
    --lease-seconds "$lease_seconds" >"$log" 2>&1 &
  worker_pids[$id]=$!
  local deadline=$((SECONDS + 120))
  until grep -qsi 'worker.*ready\|ready.*worker' "$log"; do
    kill -0 "${worker_pids[$id]}" 2>/dev/null || fail "worker $id exited before it was ready"
    ((SECONDS < deadline)) || fail "worker $id printed no 'worker ... ready' line in 120 s"
    sleep 0.1
  done
}

# nodes_alive: every node started and not deliberately stopped is still running.
nodes_alive() {
  local id
  kill -0 "$server_pid" 2>/dev/null || fail "the API node died"
  for id in "${!worker_pids[@]}"; do
    kill -0 "${worker_pids[$id]}" 2>/dev/null || fail "worker $id died"
  done
}

# worker_running JOB_ID [EXCEPT_ID]: the id of the worker whose log says it started the job
# ("worker <id>: running job <job id>"), waiting up to 15 s for the line; "" when none.
worker_running() {
  local job="$1" except="${2:-}" deadline=$((SECONDS + 15)) log id
  while ((SECONDS < deadline)); do
    for log in "$work"/worker-*.log; do
      id=$(basename "$log" .log)
      id=${id#worker-}
      [[ "$id" != "$except" ]] || continue
      if grep -q "running job $job" "$log"; then
        echo "$id"
        return
      fi
    done
    sleep 0.2
  done
}

# ---- set-up -----------------------------------------------------------------------------------
pg_start "$work"
echo "PASS: PostgreSQL started ($pg_bin)"
for account in alice bob; do
  key=$("$server_binary" keys --database "$pg_url" create --name "$account" 2>"$work/keys.log" |
    head -n 1) || true
  [[ "$key" == dd_* ]] || fail "keys --database create --name $account printed no key: $(cat "$work/keys.log")"
  export "DD_KEY_${account^^}=$key"
done
echo "PASS: a key for each of two accounts created with keys --database"

tiny_models_folder "$work/models"
start_server "$server_binary" "$work/models" "$work" sd15-tiny --database "$pg_url" --no-worker \
  --lease-seconds "$lease_seconds"
check ready "$base" 503 --problem worker --deadline 30

for id in w1 w2 w3; do start_worker "$id"; done
echo "PASS: three workers ready"
check ready "$base" 200 --deadline 60

# ---- a worker killed mid-job --------------------------------------------------------------------
check submit "$base" "$state" --per-account 6 --steps 60 --size 128
job=$(check wait-started "$base" "$state" --deadline 180)
victim=$(worker_running "$job")
[[ -n "$victim" ]] || fail "no worker log says 'worker <id>: running job $job'"
kill -9 "${worker_pids[$victim]}"
wait "${worker_pids[$victim]}" 2>/dev/null || true
unset "worker_pids[$victim]"
echo "PASS: worker $victim killed (-9) while running job $job"
check wait-all "$base" "$state" --deadline 300
rescuer=$(worker_running "$job" "$victim")
[[ -n "$rescuer" ]] || fail "job $job ended, but no other worker's log says it ran it"
echo "PASS: job $job was run again by worker $rescuer after worker $victim's lease expired"
nodes_alive
start_worker w4
echo "PASS: worker w4 joined in place of $victim"

# ---- cancellation reaches the worker running the job --------------------------------------------
check cancel "$base" "$state" --deadline 120

# ---- live progress of a job on a worker, streamed by the API node ------------------------------
check events "$base" "$state" --deadline 120

# ---- PostgreSQL restarted mid-run ---------------------------------------------------------------
outage_state="$work/outage.jsonl"
check submit "$base" "$outage_state" --per-account 4 --steps 60 --size 128
cat "$outage_state" >>"$state"
check wait-started "$base" "$outage_state" --deadline 180 >/dev/null
pg_stop
echo "PASS: PostgreSQL stopped while jobs are queued and running"
check outage "$base" "$outage_state" --deadline 30
sleep "$outage_seconds"
nodes_alive
pg_start "$work"
echo "PASS: PostgreSQL started again with the same data"
check ready "$base" 200 --deadline 60
check wait-all "$base" "$state" --deadline 300
nodes_alive
echo "PASS: the nodes recovered by themselves; every job accepted before the outage succeeded"

# ---- soak ---------------------------------------------------------------------------------------
check soak "$base" "$state" --seconds "$soak_seconds"
nodes_alive
check wait-all "$base" "$state" --deadline 120
echo "PASS: after the soak no node died and no job is lost or stuck"

# ---- clean stop ---------------------------------------------------------------------------------
for id in "${!worker_pids[@]}"; do
  stop_worker "$id" TERM
  [[ "$stopped_status" == 0 ]] || fail "worker $id did not exit cleanly on SIGTERM ($stopped_status)"
done
echo "PASS: every worker exited with status 0 on SIGTERM"
check ready "$base" 503 --problem worker --deadline 120
echo "PASS: multinode_postgres"
