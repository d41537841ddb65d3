#!/usr/bin/env bash
# Each kind of bad input to `diffusiond generate` (and a few of `conformance` and `serve`) must
# end with exactly one line "diffusiond: error: ..." on stderr and exit status 1 — never a crash
# or a stack trace.
#   tests/cli/error_lines.sh DIFFUSIOND FIXTURES_DIR
set -uo pipefail
bin="$1"
fixtures="$2"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
model_dir="$fixtures/models/sd15-tiny"
single="$fixtures/models/sd15-tiny.safetensors"
arch="$fixtures/models/sd15-tiny.arch.json"

head -c 100000 "$single" > "$work/truncated.safetensors"
printf 'garbage that is not a checkpoint' > "$work/corrupt.safetensors"
printf 'not a png' > "$work/bad.png"
mkdir -p "$work/notokenizer" && cp "$single" "$work/notokenizer/model.safetensors"
# A header naming a tensor the model does not have instead of one it needs.
python3 - "$single" "$work/missing.safetensors" <<'PY' 2>/dev/null || cp "$work/truncated.safetensors" "$work/missing.safetensors"
import json, struct, sys
data = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', data[:8])[0]
header = json.loads(data[8:8 + n])
header['renamed.weight'] = header.pop('model.diffusion_model.input_blocks.0.0.weight')
text = json.dumps(header).encode()
text += b' ' * (-len(text) % 8)
open(sys.argv[2], 'wb').write(struct.pack('<Q', len(text)) + text + data[8 + n:])
PY

failures=0
check() {
  local name="$1"
  shift
  "$bin" "$@" > "$work/out" 2> "$work/err"
  local code=$?
  local lines
  lines=$(wc -l < "$work/err")
  if [ "$code" -ne 1 ] || [ "$lines" -ne 1 ] || ! grep -q '^diffusiond: error: ' "$work/err"; then
    echo "FAIL $name: exit $code, stderr:"
    sed 's/^/    /' "$work/err" | head -5
    failures=$((failures + 1))
  else
    echo "ok   $name: $(cat "$work/err")"
  fi
}

common=(--prompt "a cat" --steps 2 -q -o "$work/out.png")
check "missing model" generate --model "$work/nope.safetensors" "${common[@]}"
check "corrupt checkpoint" generate --model "$work/corrupt.safetensors" --config "$arch" --tokenizer "$model_dir" "${common[@]}"
check "truncated checkpoint" generate --model "$work/truncated.safetensors" --config "$arch" --tokenizer "$model_dir" "${common[@]}"
check "missing tensor" generate --model "$work/missing.safetensors" --config "$arch" --tokenizer "$model_dir" "${common[@]}"
check "wrong architecture" generate --model "$single" --config "$fixtures/models/sdxl-tiny.arch.json" --tokenizer "$model_dir" "${common[@]}"
check "missing tokenizer" generate --model "$work/notokenizer/model.safetensors" --config "$arch" "${common[@]}"
check "bad init image" generate --model "$model_dir" --init-image "$work/bad.png" "${common[@]}"
check "bad mask" generate --model "$model_dir" --init-image "$work/bad.png" --mask "$work/bad.png" "${common[@]}"
check "bad latents file" generate --model "$model_dir" --latents "$work/bad.png" "${common[@]}"
check "bad size" generate --model "$model_dir" --width 100 "${common[@]}"
check "bad lora" generate --model "$model_dir" --lora "$work/corrupt.safetensors:0.5" "${common[@]}"
sdxl="$fixtures/models/sdxl-tiny"
check "bad original size" generate --model "$sdxl" --original-size 1024 "${common[@]}"
check "bad crop" generate --model "$sdxl" --crop-top-left 3,-1 "${common[@]}"
check "zero negative target" generate --model "$sdxl" --negative-target-size 0x64 "${common[@]}"
check "sdxl corrupt lora" generate --model "$sdxl" --lora "$work/corrupt.safetensors" "${common[@]}"
check "missing fixtures" conformance "$work/none"
# Devices: an unknown name anywhere, and CUDA where there is none (this machine has no GPU; on one
# with a GPU the CUDA lines are left out).
check "unknown device" generate --model "$model_dir" --device tpu "${common[@]}"
check "fp16 on the cpu" generate --model "$model_dir" --dtype fp16 "${common[@]}"
check "unknown conformance device" conformance "$fixtures" --device gpu
if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >/dev/null 2>&1; then
  check "no cuda device (generate)" generate --model "$model_dir" --device cuda "${common[@]}"
  check "no cuda device (conformance)" conformance "$fixtures" --device cuda:1
  check "no cuda device (serve)" serve --models-dir "$fixtures/models" --device cuda --port 0
fi
[ -f "$work/out.png" ] && { echo "FAIL an output file was written despite errors"; failures=$((failures + 1)); }

echo "$failures failed"
[ "$failures" -eq 0 ]
