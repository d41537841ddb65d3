# Sourced by the test scripts that talk to a real `diffusiond serve`.
# start_server BINARY MODELS_DIR WORK_DIR DEFAULT_MODEL [SERVE_OPTION...]: starts it on a free
# loopback port with WORK_DIR/data as its data dir and WORK_DIR/server.log as its log, waits until
# /health answers, and sets server_pid and base (http://127.0.0.1:PORT). Exits 1 with the log if
# it does not start.
start_server() {
  local binary="$1" models="$2" work="$3" default_model="$4"
  shift 4
  local port
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$binary" serve --host 127.0.0.1 --port "$port" --models-dir "$models" \
    --data-dir "$work/data" --default-model "$default_model" "$@" >"$work/server.log" 2>&1 &
  server_pid=$!
  base="http://127.0.0.1:$port"
  local deadline=$((SECONDS + 60))
  until curl -fsS "$base/health" >/dev/null 2>&1; do
    if ! kill -0 "$server_pid" 2>/dev/null || ((SECONDS > deadline)); then
      echo "diffusiond did not start; its log:" >&2
      cat "$work/server.log" >&2
      exit 1
    fi
    sleep 0.1
  done
}
