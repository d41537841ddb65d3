"""The official `openai` Python client, unchanged except for its base URL, against a diffusiond
server: images.generate (b64_json and url, and streamed with partial images), images.edit (PNG
image + mask), models.list and an error's shape. Usage: python check.py http://127.0.0.1:PORT   (OPENAI_API_KEY: a key, if any)
"""

import base64
import os
import struct
import sys
import traceback
import urllib.request
import zlib

import openai

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def png(width: int, height: int, pixel) -> bytes:
    """An 8-bit RGB PNG whose pixels come from pixel(x, y) -> (r, g, b)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # depth 8, RGB, no interlace
    rows = b"".join(
        b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(width)) for y in range(height)
    )
    return (PNG_SIGNATURE + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", zlib.compress(rows))
            + png_chunk(b"IEND", b""))


def png_size(data: bytes, what: str) -> tuple:
    assert data[:8] == PNG_SIGNATURE, f"{what}: not a PNG"
    return struct.unpack(">II", data[16:24])


def expect_images_response(response, count: int, field: str) -> None:
    assert isinstance(response.created, int), "created is unix seconds"
    assert response.created > 1_600_000_000
    assert len(response.data) == count, f"{len(response.data)} images, wanted {count}"
    for image in response.data:
        assert isinstance(getattr(image, field), str), f"data[].{field}"
        assert isinstance(image.revised_prompt, str), "data[].revised_prompt"


def check_generate_base64(client: openai.OpenAI) -> None:
    response = client.images.generate(model="sdxl-base", prompt="a red bicycle", n=2,
                                      size="64x64", response_format="b64_json")
    expect_images_response(response, 2, "b64_json")
    for image in response.data:
        assert png_size(base64.b64decode(image.b64_json), "b64_json") == (64, 64)


def check_generate_url(client: openai.OpenAI) -> None:
    response = client.images.generate(prompt="a green door", size="128x64", response_format="url")
    expect_images_response(response, 1, "url")
    with urllib.request.urlopen(response.data[0].url, timeout=60) as fetched:  # no key: public
        assert fetched.status == 200
        assert fetched.headers["Content-Type"] == "image/png"
        assert png_size(fetched.read(), "url") == (128, 64)


def check_generate_stream(client: openai.OpenAI) -> None:
    # 8 steps: the server previews a job about four times, so two partial images are there to send.
    events = list(client.images.generate(model="sdxl-base", prompt="a yellow tram", size="64x64",
                                         stream=True, partial_images=2, extra_body={"steps": 8}))
    types = [event.type for event in events]
    assert types == ["image_generation.partial_image"] * 2 + ["image_generation.completed"], types
    for index, event in enumerate(events[:2]):
        assert isinstance(event, openai.types.ImageGenPartialImageEvent), type(event)
        assert event.partial_image_index == index, event.partial_image_index
        assert event.output_format == "png" and event.size == "64x64"
        assert png_size(base64.b64decode(event.b64_json), "partial image") == (64, 64)
    completed = events[-1]
    assert isinstance(completed, openai.types.ImageGenCompletedEvent), type(completed)
    assert isinstance(completed.created_at, int) and completed.size == "64x64"
    assert png_size(base64.b64decode(completed.b64_json), "completed") == (64, 64)
    assert completed.b64_json != events[1].b64_json, "the image is not its last preview"


def check_stream_error(client: openai.OpenAI) -> None:
    try:
        client.images.generate(prompt="x", stream=True, partial_images=4)
    except openai.BadRequestError as error:
        assert error.param == "partial_images", error.param
        return
    raise AssertionError("partial_images=4 was accepted")


def check_edit(client: openai.OpenAI) -> None:
    image = png(64, 64, lambda x, y: (x * 4, y * 4, 128))
    mask = png(64, 64, lambda x, y: (255, 255, 255) if x < 32 else (0, 0, 0))
    response = client.images.edit(image=("image.png", image, "image/png"),
                                  mask=("mask.png", mask, "image/png"), prompt="a blue window",
                                  n=1, size="64x64", response_format="b64_json")
    expect_images_response(response, 1, "b64_json")
    assert png_size(base64.b64decode(response.data[0].b64_json), "edit") == (64, 64)


def check_models(client: openai.OpenAI) -> None:
    ids = []
    for model in client.models.list():
        assert model.object == "model"
        assert model.owned_by == "diffusiond"
        assert isinstance(model.created, int)
        ids.append(model.id)
    assert "sd15-tiny" in ids, f"models: {ids}"


def check_error(client: openai.OpenAI) -> None:
    try:
        client.images.generate(prompt="x", size="65x65")
    except openai.BadRequestError as error:
        assert error.status_code == 400, error.status_code
        assert error.param == "size", error.param
        assert error.type == "invalid_request_error", error.type
        return
    raise AssertionError("a 65x65 size was accepted")


CHECKS = [check_generate_base64, check_generate_url, check_generate_stream, check_stream_error,
          check_edit, check_models, check_error]


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: python check.py SERVER_BASE_URL", file=sys.stderr)
        return 2
    client = openai.OpenAI(base_url=f"{sys.argv[1]}/v1",
                           api_key=os.environ.get("OPENAI_API_KEY", "sk-local-mode"),
                           max_retries=0, timeout=300)
    failed = 0
    for check in CHECKS:
        try:
            check(client)
            print(f"ok   {check.__name__}")
        except Exception:  # each check reports its own failure; the rest still run
            failed += 1
            print(f"FAIL {check.__name__}:\n{traceback.format_exc()}")
    print(f"{len(CHECKS) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
