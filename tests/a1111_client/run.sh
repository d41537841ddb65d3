#!/usr/bin/env bash
# Runs the `webuiapi` client (the AUTOMATIC1111 API client from PyPI, unchanged) and the requests
# Open WebUI sends (check.py) against a real `diffusiond serve` with the tiny fixture models and
# an API key. Usage: run.sh SERVER_BINARY FIXTURES_DIR
# The pinned client comes from the project's virtual environment (.venv, filled by scripts/setup;
# DD_PYTHON names another interpreter that has it).
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 SERVER_BINARY FIXTURES_DIR" >&2
  exit 2
fi
server_binary=$(realpath "$1")
fixtures=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
python="${DD_PYTHON:-$here/../../.venv/bin/python}"
if ! "$python" -c 'import webuiapi, requests, PIL' 2>/dev/null; then
  echo "$python lacks webuiapi, requests or pillow: run scripts/setup first" >&2
  exit 1
fi
# shellcheck source=../lib/serve.sh
source "$here/../lib/serve.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/dd_a1111_client.XXXXXX")
server_pid=""

cleanup() {
  if [[ -n "$server_pid" ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# The models folder of tests/unit/http_test_server.cpp's tiny_models_dir().
models="$work/models"
mkdir -p "$models/loras" "$work/data"
ln -s "$fixtures/models/sd15-tiny" "$models/sd15-tiny"
ln -s "$fixtures/models/sd15-tiny.safetensors" "$models/sd15-tiny-single.safetensors"
ln -s "$fixtures/models/sd15-tiny.arch.json" "$models/sd15-tiny-single.arch.json"
ln -s "$fixtures/models/lora/sd15-tiny-lora.safetensors" "$models/loras/sd15-tiny-lora.safetensors"
cat >"$models/sd15-tiny.json" <<'EOF'
{"aliases": ["sdxl-base", "stabilityai/stable-diffusion-xl-base-1.0"],
 "defaults": {"steps": 4, "cfg": 7.0, "sampler": "euler", "width": 64, "height": 64}}
EOF
# Sidecar paths must stay inside the models folder: the tokenizer is linked in.
ln -s "$fixtures/models/sd15-tiny/tokenizer" "$models/sd15-tiny-single.tokenizer"
cat >"$models/sd15-tiny-single.json" <<'EOF'
{"config": "sd15-tiny-single.arch.json", "tokenizer": "sd15-tiny-single.tokenizer",
 "defaults": {"steps": 2, "width": 64, "height": 64}}
EOF

# A1111 clients authenticate with HTTP Basic (--api-auth USER:PASSWORD): the user is the key's
# name and the password the key. The server starts with that key, so every request needs it.
key=$("$server_binary" keys --data-dir "$work/data" create --name webui 2>/dev/null | head -n 1)
if [[ "$key" != dd_* ]]; then
  echo "could not create a key" >&2
  exit 1
fi

start_server "$server_binary" "$models" "$work" sd15-tiny

status=0
DD_A1111_USER=webui DD_A1111_KEY="$key" "$python" "$here/check.py" "$base" || status=$?
if [[ $status -ne 0 ]]; then
  echo "--- server log ---" >&2
  cat "$work/server.log" >&2
fi
exit $status
