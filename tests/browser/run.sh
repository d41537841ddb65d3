#!/usr/bin/env bash
# Drives the playground (GET /) in a real browser — Debian's Chromium through chromedriver, with
# the pinned Selenium from .venv — against a real `diffusiond serve` that requires an API key,
# with the tiny fixture models. Usage: run.sh SERVER_BINARY FIXTURES_DIR
# DD_PLAYGROUND_SCREENSHOT=FILE also saves a screenshot of the page there (docs/playground.png).
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 SERVER_BINARY FIXTURES_DIR" >&2
  exit 2
fi
server_binary=$(realpath "$1")
fixtures=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
python="${DD_PYTHON:-$here/../../.venv/bin/python}"
if ! "$python" -c 'import selenium' 2>/dev/null; then
  echo "$python has no selenium package: run scripts/setup first" >&2
  exit 1
fi
for tool in chromium chromedriver; do
  if ! command -v "$tool" >/dev/null; then
    echo "no $tool: install Debian's chromium and chromium-driver (scripts/setup)" >&2
    exit 1
  fi
done
# shellcheck source=../lib/serve.sh
source "$here/../lib/serve.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/dd_browser.XXXXXX")
server_pid=""

cleanup() {
  if [[ -n "$server_pid" ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# The tiny models: text-to-image (the default), an inpainting model, and a LoRA.
models="$work/models"
mkdir -p "$models/loras" "$work/data"
ln -s "$fixtures/models/sd15-tiny" "$models/sd15-tiny"
ln -s "$fixtures/models/sd15-inpaint-tiny" "$models/sd15-inpaint-tiny"
ln -s "$fixtures/models/lora/sd15-tiny-lora.safetensors" "$models/loras/sd15-tiny-lora.safetensors"
cat >"$models/sd15-tiny.json" <<'JSON'
{"defaults": {"steps": 4, "cfg": 7.0, "sampler": "euler", "width": 64, "height": 64}}
JSON

# A server with a key: the page must be given it.
key=$("$server_binary" keys --data-dir "$work/data" create --name playground 2>"$work/keys.log") \
  || { cat "$work/keys.log" >&2; exit 1; }
start_server "$server_binary" "$models" "$work" sd15-tiny

status=0
DD_API_KEY="$key" "$python" "$here/check.py" "$base" "$work/browser" || status=$?
if [[ $status -ne 0 ]]; then
  echo "--- server log ---" >&2
  tail -n 100 "$work/server.log" >&2
fi
exit $status
