#!/usr/bin/env bash
# The example requests of the four seed documents (../shared/seeds/000-003), sent with curl to a
# real `diffusiond serve` with the tiny fixture models, each unchanged but for the base URL and
# the API key placeholder; checks the status and the shape of every answer (check.py).
# Where a verbatim example cannot succeed here, its documented error is asserted and the nearest
# succeeding variant runs as well:
#  - seed 000's prompt names character 6320a05b-… which does not exist here: a 400 naming it; then
#    a character is registered with the fixture LoRA and the same prompt runs with its id;
#  - seed 002's image-to-image example carries truncated base64 placeholders: a 400 naming
#    `image`; then it runs with a real JPEG and PNG mask;
#  - seeds 001 and 002 ask for 1024x1024 text-to-image at 30 and 25 steps: they run verbatim on
#    the tiny SDXL model (a few minutes on two cores; DD_SEED_FULL_SIZE=0 skips them), and the
#    same requests at 64x64 run too.
# Model names the seeds use are sidecar aliases of the tiny models: the SDXL names of seeds 001
# and 002 name the tiny SDXL model, black-forest-labs/FLUX.1-schnell and FLUX.1-Fill-dev the tiny
# FLUX.1 schnell and Fill-dev diffusers folders (FIXTURES_DIR/../fixtures-flux and
# ../fixtures-flux-fill; without them the FLUX examples are skipped, saying so), and seed 003's
# imagine default is the fast model, a Lightning-named copy of the tiny SDXL model. Seed 002's
# text-to-image example also runs with FLUX.1-schnell, the model its sample answer names.
# Usage: run.sh SERVER_BINARY FIXTURES_DIR
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 SERVER_BINARY FIXTURES_DIR" >&2
  exit 2
fi
server_binary=$(realpath "$1")
fixtures=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/serve.sh
source "$here/../lib/serve.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/dd_seed_examples.XXXXXX")
server_pid=""
failures=0

trap client_test_cleanup EXIT  # tests/lib/serve.sh: stops $server_pid, removes $work

# --- models: the tiny fixtures under the names the seeds use -------------------------------
models="$work/models"
mkdir -p "$models/loras" "$work/data"
ln -s "$fixtures/models/sd15-tiny" "$models/sd15-tiny"
ln -s "$fixtures/models/sdxl-tiny" "$models/sdxl-tiny"
ln -s "$fixtures/models/sdxl-tiny.safetensors" "$models/sdxl-lightning-tiny.safetensors"
ln -s "$fixtures/models/sdxl-tiny.arch.json" "$models/sdxl-lightning-tiny.arch.json"
ln -s "$fixtures/models/sd15-inpaint-tiny" "$models/sd15-inpaint-tiny"
ln -s "$fixtures/models/lora/sd15-tiny-lora.safetensors" "$models/loras/sd15-tiny-lora.safetensors"
cat >"$models/sd15-tiny.json" <<'EOF'
{"defaults": {"steps": 4, "cfg": 7.0, "sampler": "euler", "width": 64, "height": 64}}
EOF
cat >"$models/sdxl-tiny.json" <<'EOF'
{"aliases": ["sdxl-base", "stabilityai/stable-diffusion-xl-base-1.0"],
 "defaults": {"steps": 4, "cfg": 7.0, "sampler": "euler", "width": 64, "height": 64}}
EOF
cat >"$models/sdxl-lightning-tiny.json" <<'EOF'
{"config": "sdxl-lightning-tiny.arch.json", "tokenizer": "sdxl-tiny",
 "defaults": {"width": 64, "height": 64}}
EOF
cat >"$models/sd15-inpaint-tiny.json" <<'EOF'
{"defaults": {"steps": 4, "width": 64, "height": 64}}
EOF
# FLUX.1 (diffusers folders of the tiny FLUX fixtures), beside the SD fixtures when present.
flux_fixtures=$(realpath -m "$fixtures/../fixtures-flux")
flux_fill_fixtures=$(realpath -m "$fixtures/../fixtures-flux-fill")
if [[ -d "$flux_fixtures/models/flux-schnell-tiny" &&
  -d "$flux_fill_fixtures/models/flux-fill-dev-tiny" ]]; then
  have_flux=1
  ln -s "$flux_fixtures/models/flux-schnell-tiny" "$models/flux-schnell-tiny"
  ln -s "$flux_fill_fixtures/models/flux-fill-dev-tiny" "$models/flux-fill-dev-tiny"
  cat >"$models/flux-schnell-tiny.json" <<'EOF'
{"aliases": ["black-forest-labs/FLUX.1-schnell", "flux-schnell"],
 "defaults": {"steps": 4, "width": 64, "height": 64}}
EOF
  cat >"$models/flux-fill-dev-tiny.json" <<'EOF'
{"aliases": ["black-forest-labs/FLUX.1-Fill-dev", "flux-fill"],
 "defaults": {"steps": 4, "width": 64, "height": 64}}
EOF
else
  have_flux=0
  echo "note: no FLUX fixtures at $flux_fixtures and $flux_fill_fixtures: FLUX examples are skipped"
fi

# --- server, with an API key (it then requires one) ----------------------------------------
key=$("$server_binary" keys --data-dir "$work/data" create --name seeds 2>"$work/keys.log")
start_server "$server_binary" "$models" "$work" sd15-tiny

# --- helpers -------------------------------------------------------------------------------
# curl NAME ARGS...: the seed's curl command (ARGS), its answer kept as $work/NAME.body; prints
# the HTTP status. Shadows curl on purpose, so the examples below read as the seeds print them.
curl() {
  local name=$1
  shift
  command curl -sS -o "$work/$name.body" -w '%{http_code}' "$@" || echo 000
}

# expect NAME STATUS WANTED_STATUS SHAPE [ARGS...]: the answer had WANTED_STATUS and fits SHAPE.
expect() {
  local name=$1 status=$2 wanted=$3 shape=$4
  shift 4
  if [[ "$status" != "$wanted" ]]; then
    echo "FAIL $name: HTTP $status, expected $wanted: $(head -c 400 "$work/$name.body")" >&2
    failures=$((failures + 1))
  elif ! python3 "$here/check.py" "$shape" "$work/$name.body" "$@"; then
    echo "FAIL $name: $(head -c 400 "$work/$name.body")" >&2
    failures=$((failures + 1))
  else
    echo "ok   $name"
  fi
}

# field NAME PATH: one field of an answer ("" when it is not there: the check of it failed).
field() { python3 "$here/check.py" field "$work/$1.body" "$2" 2>/dev/null || true; }

full_size() { [[ "${DD_SEED_FULL_SIZE:-1}" == 1 ]]; }

skip_full_size() { echo "skip $1: DD_SEED_FULL_SIZE=0"; }

skip_flux() { echo "skip $1: no FLUX fixtures beside $fixtures"; }

# --- seed 000: the jobs API -------------------------------------------------------------------
# Its sample request body, POSTed to /images (the seed shows no auth: API.md's Bearer key).
status=$(curl s000_images -X POST "$base/v0/api/images" -H "Authorization: Bearer $key" \
  -H 'Content-Type: application/json' -d '{
    "prompt": "a painting of <6320a05b-548f-4c8a-aaf9-15c38e46dbbd> with a green apple in their mouth, surrealism aesthetic"
}')
expect s000_images "$status" 400 error prompt 6320a05b-548f-4c8a-aaf9-15c38e46dbbd

printf '{"name": "Seed character", "class": "person", "triggerWord": "sks", "lora": "%s"}' \
  "$(base64 -w0 "$fixtures/models/lora/sd15-tiny-lora.safetensors")" >"$work/character.json"
status=$(curl s000_character -X POST "$base/v0/api/characters" -H "Authorization: Bearer $key" \
  -H 'Content-Type: application/json' --data-binary @"$work/character.json")
expect s000_character "$status" 200 character
character=$(field s000_character character.id)

status=$(curl s000_images_with_character -X POST "$base/v0/api/images" \
  -H "Authorization: Bearer $key" -H 'Content-Type: application/json' -d '{
    "prompt": "a painting of <'"$character"'> with a green apple in their mouth, surrealism aesthetic"
}')
expect s000_images_with_character "$status" 200 job_created
job=$(field s000_images_with_character jobId)

# GET /jobs/:job-id until the job ends.
for _ in $(seq 1200); do
  status=$(curl s000_job -X GET "$base/v0/api/jobs/$job" -H "Authorization: Bearer $key")
  [[ "$status" == 200 ]] || break
  case $(field s000_job job.status) in SUCCESS | FAILED | CANCELLED) break ;; esac
  sleep 0.5
done
expect s000_job "$status" 200 job sks person
status=$(curl s000_output_file "$(field s000_job job.outputFiles.0.url)" \
  -H "Authorization: Bearer $key")
expect s000_output_file "$status" 200 png 64 64

# --- seed 001: POST /sd answers with the image bytes ------------------------------------------
sd_example() {
  curl "$1" -X POST "$base/sd" \
    -H "Content-Type: application/json" \
    -d "$2"
}
sd_body='{
            "model": "sdxl-base",
            "prompt": "Beautiful landscape",
            "negative_prompt": "bad quality",
            "token": "'"$key"'",
            "sampler": "Euler",
            "steps": 30,
            "width": 1024,
            "height": 1024,
            "cfg_scale": 7,
            "loras": {}
        }'
if full_size; then
  status=$(sd_example s001_sd "$sd_body")
  expect s001_sd "$status" 200 png 1024 1024
else
  skip_full_size s001_sd
fi
status=$(sd_example s001_sd_64 "${sd_body//: 1024/: 64}")
expect s001_sd_64 "$status" 200 png 64 64

# --- seed 002: base64 images; text-to-image sent with GET and a JSON body ---------------------
generation_example() {
  curl "$1" -X GET "$base/api/v1/images/generation" \
    -H "Authorization: Bearer $key" \
    -H 'Content-Type: application/json' \
    -d "$2"
}
generation_body='{
    "model": "stabilityai/stable-diffusion-xl-base-1.0",
    "prompt": "insert your prompt here",
    "num_steps": 25,
    "guidance_scale": 9,
    "width": 1024,
    "height": 1024,
    "negative_prompt": null
}'
if full_size; then
  status=$(generation_example s002_text_to_image "$generation_body")
  expect s002_text_to_image "$status" 200 generation stabilityai/stable-diffusion-xl-base-1.0 \
    1024 1024
else
  skip_full_size s002_text_to_image
fi
status=$(generation_example s002_text_to_image_64 "${generation_body//: 1024/: 64}")
expect s002_text_to_image_64 "$status" 200 generation stabilityai/stable-diffusion-xl-base-1.0 64 64

# The same example with FLUX.1-schnell, the model of the seed's sample answer.
schnell_body=${generation_body//stabilityai\/stable-diffusion-xl-base-1.0/black-forest-labs\/FLUX.1-schnell}
if ((!have_flux)); then
  skip_flux s002_text_to_image_schnell
elif full_size; then
  status=$(generation_example s002_text_to_image_schnell "$schnell_body")
  expect s002_text_to_image_schnell "$status" 200 generation black-forest-labs/FLUX.1-schnell \
    1024 1024
else
  skip_full_size s002_text_to_image_schnell
fi
if ((have_flux)); then
  status=$(generation_example s002_text_to_image_schnell_64 "${schnell_body//: 1024/: 64}")
  expect s002_text_to_image_schnell_64 "$status" 200 generation black-forest-labs/FLUX.1-schnell \
    64 64
fi

# Image-to-image (FLUX.1 Fill: image + mask), verbatim with its truncated base64 placeholders,
# then with real images (image_to_image.sh).
if ((have_flux)); then
  # shellcheck source=image_to_image.sh
  source "$here/image_to_image.sh"
else
  skip_flux s002_image_to_image
fi

# --- seed 003: image objects -----------------------------------------------------------------
status=$(curl s003_imagine -X POST "$base/v1/images/imagine" -H "Authorization: Bearer $key" \
  -H 'Content-Type: application/json' \
  -d '{"name": "cat", "prompt": "A cat sitting on a windowsill", "negative_prompt": "blurry", "seed": 42}')
expect s003_imagine "$status" 200 image_object cat
status=$(curl s003_content "$base/v1/images/$(field s003_imagine id)/content" \
  -H "Authorization: Bearer $key")
expect s003_content "$status" 200 png "$(field s003_imagine width)" "$(field s003_imagine height)"

if ((failures > 0)); then
  echo "$failures seed example(s) failed; server log:" >&2
  cat "$work/server.log" >&2
  exit 1
fi
echo "every seed example answered as documented"
