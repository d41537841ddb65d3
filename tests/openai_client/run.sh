#!/usr/bin/env bash
# Runs the official `openai` Python client (check.py) against a real `diffusiond serve` with the
# tiny fixture models. Usage: run.sh SERVER_BINARY FIXTURES_DIR
# The pinned client comes from the project's virtual environment (.venv, filled by scripts/setup;
# DD_PYTHON names another interpreter that has it).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/serve.sh
source "$here/../lib/serve.sh"
client_test_begin openai_client openai -- "$@"

tiny_models_folder "$work/models"
start_server "$server_binary" "$work/models" "$work" sd15-tiny
run_client_check "$python" "$here/check.py" "$base"
