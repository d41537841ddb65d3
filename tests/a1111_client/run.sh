#!/usr/bin/env bash
# Runs the `webuiapi` client (the AUTOMATIC1111 API client from PyPI, unchanged) and the requests
# Open WebUI sends (check.py) against a real `diffusiond serve` with the tiny fixture models and
# an API key. Usage: run.sh SERVER_BINARY FIXTURES_DIR
# The pinned client comes from the project's virtual environment (.venv, filled by scripts/setup;
# DD_PYTHON names another interpreter that has it).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/serve.sh
source "$here/../lib/serve.sh"
client_test_begin a1111_client webuiapi requests PIL -- "$@"

tiny_models_folder "$work/models"
# A1111 clients authenticate with HTTP Basic (--api-auth USER:PASSWORD): the user is the key's
# name and the password the key. The server starts with that key, so every request needs it.
key=$("$server_binary" keys --data-dir "$work/data" create --name webui 2>/dev/null | head -n 1)
if [[ "$key" != dd_* ]]; then
  echo "could not create a key" >&2
  exit 1
fi
start_server "$server_binary" "$work/models" "$work" sd15-tiny
run_client_check env DD_A1111_USER=webui DD_A1111_KEY="$key" "$python" "$here/check.py" "$base"
