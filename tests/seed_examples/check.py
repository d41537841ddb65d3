"""Checks the answers of the seed examples (run.sh) against the shapes the seeds and API.md give.

Usage: check.py SHAPE FILE [ARGS...]; exits 1 with a message when the answer does not fit.
`check.py field FILE PATH` prints one field (dotted path, list indices as numbers) for run.sh.
"""
import base64
import json
import re
import struct
import sys

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def require(condition, message):
    if not condition:
        raise AssertionError(message)


def keys(obj, *names):
    require(isinstance(obj, dict), f"expected an object, got {obj!r:.200}")
    missing = [name for name in names if name not in obj]
    require(not missing, f"missing {missing} in {sorted(obj)}")


def png_size(data):
    require(data[:8] == PNG_SIGNATURE, f"not a PNG (starts {data[:8]!r})")
    return struct.unpack(">II", data[16:24])


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def check_error(path, param, *texts):
    """API.md's error shape, naming `param` (and mentioning each text in the message)."""
    body = load_json(path)
    keys(body, "success", "error")
    require(body["success"] is False, "success must be false")
    keys(body["error"], "code", "message", "param")
    require(body["error"]["param"] == param, f"param {body['error']['param']!r}, expected {param!r}")
    for text in texts:
        require(text in body["error"]["message"], f"{text!r} not in {body['error']['message']!r}")


def check_job_created(path):
    """Seed 000's answer to POST /images."""
    body = load_json(path)
    keys(body, "success", "jobId", "transactionId")
    require(body["success"] is True, "success must be true")
    require(UUID.match(body["jobId"]) and UUID.match(body["transactionId"]), "ids must be UUIDs")


def check_character(path):
    body = load_json(path)
    keys(body, "success", "character")
    keys(body["character"], "id", "name", "class", "triggerWord", "created")


def check_job(path, trigger, character_class):
    """Seed 000's GET /jobs/:job-id sample: a finished job with its files and status history."""
    body = load_json(path)
    keys(body, "success", "job")
    job = body["job"]
    keys(job, "id", "accountId", "created", "type", "payload", "outputFiles", "status", "statuses")
    require(job["status"] == "SUCCESS", f"status {job['status']}: {job.get('error', '')}")
    require(job["type"] == "IMAGE_INFERENCE", "type must be IMAGE_INFERENCE")
    require(isinstance(job["created"], int) and job["created"] > 1_600_000_000_000,
            "created is ms since the epoch")
    payload = job["payload"]
    keys(payload, "seed", "loras", "width", "height", "prompt", "negative_prompt",
         "conditionedPrompt", "num_outputs", "guidance_scale", "num_inference_steps")
    require(trigger in payload["conditionedPrompt"], "the trigger word conditions the prompt")
    require(len(payload["loras"]) == 1, "the character's LoRA is applied")
    require(payload["loras"][0]["meta"]["class"] == character_class, "LoRA meta.class")
    require(len(job["outputFiles"]) == payload["num_outputs"], "one file per output")
    for output in job["outputFiles"]:
        keys(output, "name", "path", "created", "size", "url")
    statuses = [s["status"] for s in job["statuses"]]
    require(statuses == ["SUCCESS", "IN_PROGRESS", "CREATED"], f"statuses newest first: {statuses}")
    for status in job["statuses"]:
        keys(status, "id", "status", "created")


def check_png(path, width, height):
    with open(path, "rb") as f:
        size = png_size(f.read())
    require(size == (int(width), int(height)), f"PNG is {size}, expected {width}x{height}")


def check_generation(path, model, width, height):
    """Seed 002's answer: base64 images with their inference time."""
    body = load_json(path)
    keys(body, "model", "object", "data", "message", "status")
    require(body["model"] == model, f"model {body['model']!r}")
    require(body["object"] == "list" and body["status"] == "success", "object / status")
    require(body["message"] == "Image generated successfully", "message")
    require(len(body["data"]) == 1, "one image")
    item = body["data"][0]
    keys(item, "timings", "index", "b64_json")
    require(isinstance(item["timings"]["inference"], (int, float)), "timings.inference")
    require(item["index"] == 0, "index")
    size = png_size(base64.b64decode(item["b64_json"], validate=True))
    require(size == (int(width), int(height)), f"image is {size}, expected {width}x{height}")


def check_image_object(path, name):
    """Seed 003's Image object."""
    body = load_json(path)
    require(set(body) == {"id", "name", "url", "width", "height", "format", "size", "created_at"},
            f"fields {sorted(body)}")
    require(body["id"].startswith("image_"), "id is image_…")
    require(body["name"] == name and body["url"] is None and body["format"] == "png", "fields")
    require(body["size"] > 0 and body["width"] > 0 and body["height"] > 0, "sizes")
    require(ISO_UTC.match(body["created_at"]), "created_at is ISO 8601 UTC")


def field(path, dotted):
    value = load_json(path)
    for part in dotted.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    print(value)


SHAPES = {
    "error": check_error,
    "job_created": check_job_created,
    "character": check_character,
    "job": check_job,
    "png": check_png,
    "generation": check_generation,
    "image_object": check_image_object,
    "field": field,
}

if __name__ == "__main__":
    try:
        SHAPES[sys.argv[1]](*sys.argv[2:])
    except (AssertionError, KeyError, IndexError, ValueError, TypeError) as e:
        print(f"{sys.argv[1]}: {e!r}", file=sys.stderr)
        sys.exit(1)
