#!/usr/bin/env bash
# Drives the playground (GET /) in a real browser — Debian's Chromium through chromedriver, with
# the pinned Selenium from .venv — against a real `diffusiond serve` that requires an API key,
# with the tiny fixture models. Usage: run.sh SERVER_BINARY FIXTURES_DIR
# DD_PLAYGROUND_SCREENSHOT=FILE also saves a screenshot of the page there (docs/playground.png).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/serve.sh
source "$here/../lib/serve.sh"
client_test_begin browser selenium -- "$@"
for tool in chromium chromedriver; do
  if ! command -v "$tool" >/dev/null; then
    echo "no $tool: install Debian's chromium and chromium-driver (scripts/setup)" >&2
    exit 1
  fi
done

# The tiny models: text-to-image (the default), an inpainting model, and a LoRA.
models="$work/models"
mkdir -p "$models/loras"
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
run_client_check env DD_API_KEY="$key" "$python" "$here/check.py" "$base" "$work/browser"
