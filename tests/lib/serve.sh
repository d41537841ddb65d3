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

# client_test_begin NAME MODULE... (with the runner's "$@" as SERVER_BINARY FIXTURES_DIR
# following a "--"): the common start of a test that runs a Python client against a real server.
# Checks the arguments and that the project's .venv python (or $DD_PYTHON) has the modules, makes
# a work folder (WORK/data beside it) removed on exit with the server stopped, and sets
# server_binary, fixtures, python, work and server_pid.
client_test_begin() {
  local name="$1"
  shift
  local modules=()
  while [[ $# -gt 0 && "$1" != "--" ]]; do
    modules+=("$1")
    shift
  done
  shift
  if [[ $# -ne 2 ]]; then
    echo "usage: run.sh SERVER_BINARY FIXTURES_DIR" >&2
    exit 2
  fi
  server_binary=$(realpath "$1")
  fixtures=$(realpath "$2")
  python="${DD_PYTHON:-$(dirname "${BASH_SOURCE[0]}")/../../.venv/bin/python}"
  local module
  for module in "${modules[@]}"; do
    if ! "$python" -c "import $module" 2>/dev/null; then
      echo "$python has no $module package: run scripts/setup first" >&2
      exit 1
    fi
  done
  work=$(mktemp -d "${TMPDIR:-/tmp}/dd_${name}.XXXXXX")
  mkdir -p "$work/data"
  server_pid=""
  trap client_test_cleanup EXIT
}

# On exit (any script with server_pid and work): stops the server and removes the work folder.
client_test_cleanup() {
  if [[ -n "$server_pid" ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}

# tiny_models_folder MODELS: the models folder of tests/unit/http_test_server.cpp's
# tiny_models_dir() from $fixtures: sd15-tiny (aliased as SDXL base) as a diffusers folder,
# sd15-tiny-single as a single file with its architecture, and the tiny LoRA.
tiny_models_folder() {
  local models="$1"
  mkdir -p "$models/loras"
  ln -s "$fixtures/models/sd15-tiny" "$models/sd15-tiny"
  ln -s "$fixtures/models/sd15-tiny.safetensors" "$models/sd15-tiny-single.safetensors"
  ln -s "$fixtures/models/sd15-tiny.arch.json" "$models/sd15-tiny-single.arch.json"
  ln -s "$fixtures/models/lora/sd15-tiny-lora.safetensors" \
    "$models/loras/sd15-tiny-lora.safetensors"
  cat >"$models/sd15-tiny.json" <<'JSON'
{"aliases": ["sdxl-base", "stabilityai/stable-diffusion-xl-base-1.0"],
 "defaults": {"steps": 4, "cfg": 7.0, "sampler": "euler", "width": 64, "height": 64}}
JSON
  # Sidecar paths must stay inside the models folder: the tokenizer is linked in.
  ln -s "$fixtures/models/sd15-tiny/tokenizer" "$models/sd15-tiny-single.tokenizer"
  cat >"$models/sd15-tiny-single.json" <<'JSON'
{"config": "sd15-tiny-single.arch.json", "tokenizer": "sd15-tiny-single.tokenizer",
 "defaults": {"steps": 2, "width": 64, "height": 64}}
JSON
}

# run_client_check COMMAND...: runs it; on failure prints the end of the server's log. Exits
# with its status.
run_client_check() {
  local status=0
  "$@" || status=$?
  if [[ $status -ne 0 ]]; then
    echo "--- server log (last 100 lines) ---" >&2
    tail -n 100 "$work/server.log" >&2
  fi
  exit $status
}
