# shellcheck shell=bash disable=SC2154  # key, base and work are run.sh's
# Seed 002's image-to-image example (sourced by run.sh, with its helpers and variables): sent
# verbatim with its truncated base64 placeholders, it gets the documented 400 naming `image`; then
# the same request with a real JPEG (made by the server) and a PNG mask runs on the model the
# seed names, black-forest-labs/FLUX.1-Fill-dev (the tiny FLUX.1 Fill fixture).
# Verbatim, with its truncated base64 placeholders.
NEBULA_API_KEY=$key
status=$(curl s002_image_to_image -X POST "$base/api/v1/images/generation" \
    -H "Content-Type: application/json" \
    -H "Authorization: Bearer $NEBULA_API_KEY" \
    --data-raw '{
    "model":"black-forest-labs/FLUX.1-Fill-dev",
    "prompt": "a red baseball cap",
    "num_steps": 40,
    "guidance_scale": 4.5,
    "width": 1024,
    "height": 1024,
    "image": "/9j/4…/Z", 
    "mask": "/9j/4…ACgD/9k="
}')
expect s002_image_to_image "$status" 400 error image

# The same with a real JPEG (made by the server) and a PNG mask (white = repaint: the left half).
status=$(curl s002_input_jpeg -X POST "$base/sd" -H "Authorization: Bearer $key" \
  -H 'Content-Type: application/json' -d '{"prompt": "a person in a cap", "width": 64, "height": 64, "steps": 2, "format": "jpeg"}')
[[ "$status" == 200 ]] || echo "FAIL s002_input_jpeg: HTTP $status" >&2
python3 - "$work/mask.png" <<'PY'
import struct, sys, zlib
width = height = 64
rows = b"".join(b"\0" + bytes([255 if x < 32 else 0 for x in range(width)]) for _ in range(height))
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
       + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
open(sys.argv[1], "wb").write(png)
PY
printf '{
    "model":"black-forest-labs/FLUX.1-Fill-dev",
    "prompt": "a red baseball cap",
    "num_steps": 40,
    "guidance_scale": 4.5,
    "width": 1024,
    "height": 1024,
    "image": "%s",
    "mask": "%s"
}' "$(base64 -w0 "$work/s002_input_jpeg.body")" "$(base64 -w0 "$work/mask.png")" \
  >"$work/image_to_image.json"
status=$(curl s002_image_to_image_real -X POST "$base/api/v1/images/generation" \
    -H "Content-Type: application/json" \
    -H "Authorization: Bearer $NEBULA_API_KEY" \
    --data-binary @"$work/image_to_image.json")
expect s002_image_to_image_real "$status" 200 generation black-forest-labs/FLUX.1-Fill-dev 64 64

