"""The `webuiapi` client (AUTOMATIC1111's API client from PyPI), unchanged, against a diffusiond
server that has an API key, authenticating as A1111's --api-auth does (HTTP Basic, user = the
key's name, password = the key); then the requests Open WebUI sends (as its
backend/open_webui/routers/images.py builds them) with `requests`.
Usage: python check.py http://127.0.0.1:PORT   (DD_A1111_USER, DD_A1111_KEY: the key's name, key)
"""

import base64
import json
import os
import sys
import threading
import traceback
from urllib.parse import urlparse

import requests
import webuiapi
from PIL import Image

SMALL = {"steps": 2, "width": 64, "height": 64}


def connect(base: str) -> webuiapi.WebUIApi:
    url = urlparse(base)
    api = webuiapi.WebUIApi(host=url.hostname, port=url.port, use_https=False)
    api.set_auth(os.environ["DD_A1111_USER"], os.environ["DD_A1111_KEY"])
    return api


def check_txt2img(api: webuiapi.WebUIApi) -> Image.Image:
    result = api.txt2img(prompt="a red cube", negative_prompt="blurry", seed=42, cfg_scale=7,
                         sampler_name="Euler a", batch_size=2, **SMALL)
    assert len(result.images) == 2, result.json.keys()
    assert result.image.size == (64, 64), result.image.size
    assert isinstance(result.info, dict), f"info is JSON text: {result.info!r}"
    assert result.info["seed"] == 42 and result.info["all_seeds"] == [42, 43], result.info
    assert result.info["sampler_name"] == "Euler a", result.info
    assert result.parameters["prompt"] == "a red cube", result.parameters
    assert result.image.info.get("parameters", "").startswith("a red cube\n"), result.image.info
    return result.image


def check_img2img(api: webuiapi.WebUIApi, picture: Image.Image) -> None:
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (16, 16, 48, 48))  # white = repaint
    # The client's defaults: inpainting_fill 0 (fill), mask_blur 4, inpaint_full_res.
    result = api.img2img(images=[picture], mask_image=mask, prompt="a blue cube", seed=5,
                         denoising_strength=0.8, **SMALL)
    assert result.image.size == (64, 64), result.image.size
    assert result.info["denoising_strength"] == 0.8, result.info
    original = api.img2img(images=[picture], mask_image=mask, inpainting_fill=1, prompt="x",
                           **SMALL)
    assert original.image.size == (64, 64)
    plain = api.img2img(images=[picture], prompt="x", denoising_strength=0.5, **SMALL)
    assert plain.image.size == (64, 64)


def check_lists_and_options(api: webuiapi.WebUIApi) -> None:
    titles = api.util_get_model_names()
    assert "sd15-tiny" in titles and "sd15-tiny-single" in titles, titles
    assert "Euler a" in api.util_get_sampler_names()
    assert api.util_get_scheduler_names() == ["automatic", "karras"]
    assert [lora["name"] for lora in api.get_loras()] == ["sd15-tiny-lora"]
    assert api.util_get_current_model() == "sd15-tiny"
    api.util_set_model("sd15-tiny-single")
    assert api.util_get_current_model() == "sd15-tiny-single"
    result = api.txt2img(prompt="x", seed=1, steps=2)  # the client sends A1111's 512x512
    assert result.info["sd_model_name"] == "sd15-tiny-single", result.info
    assert result.image.size == (512, 512), result.image.size
    api.set_options({"sd_model_checkpoint": "sd15-tiny"})
    assert api.get_options()["sd_model_checkpoint"] == "sd15-tiny"
    # A LoRA by prompt tag, and an option for one request.
    tagged = api.txt2img(prompt="a red cube <lora:sd15-tiny-lora:0.8>", seed=3,
                         override_settings={"CLIP_stop_at_last_layers": 2}, **SMALL)
    assert tagged.info["clip_skip"] == 2, tagged.info


def check_png_info(api: webuiapi.WebUIApi, picture: Image.Image) -> None:
    result = api.png_info(picture)
    text = result.json["info"]
    assert text.startswith("a red cube\nNegative prompt: blurry\nSteps: 2"), text
    assert result.json["parameters"]["Seed"] == "42", result.json


def check_progress_and_interrupt(api: webuiapi.WebUIApi) -> None:
    idle = api.get_progress()
    assert idle["progress"] == 0 and idle["current_image"] is None, idle
    outcome = {}

    def long_job():
        try:
            outcome["result"] = api.txt2img(prompt="a long one", seed=9, steps=150, width=256,
                                            height=256)
        except RuntimeError as error:
            outcome["error"] = error

    worker = threading.Thread(target=long_job)
    worker.start()
    seen = None
    while worker.is_alive():
        progress = api.get_progress()
        if progress["current_image"]:
            seen = progress
            break
    assert seen is not None, "no progress with a preview was seen while the job ran"
    assert 0 < seen["progress"] <= 1 and seen["state"]["sampling_steps"] == 150, seen
    preview = base64.b64decode(seen["current_image"])
    assert preview[:8] == b"\x89PNG\r\n\x1a\n"
    api.interrupt()
    worker.join()
    assert "error" in outcome, "the interrupted request still answered with images"
    assert outcome["error"].args[0] == 409, outcome["error"].args


def check_open_webui(base: str) -> None:
    """The requests Open WebUI's AUTOMATIC1111 engine sends, as it builds them."""
    auth = f"{os.environ['DD_A1111_USER']}:{os.environ['DD_A1111_KEY']}"
    headers = {"authorization": "Basic " + base64.b64encode(auth.encode("utf-8")).decode("utf-8")}
    url = base + "/sdapi/v1"
    # Settings: verifying the URL, then listing models.
    requests.get(f"{url}/options", headers=headers).raise_for_status()
    models = requests.get(f"{url}/sd-models", headers=headers).json()
    listed = [{"id": model["title"], "name": model["model_name"]} for model in models]
    assert {"id": "sd15-tiny-single", "name": "sd15-tiny-single"} in listed, listed
    # set_image_model: the whole options object posted back with the model changed.
    options = requests.get(f"{url}/options", headers=headers).json()
    if options["sd_model_checkpoint"] != "sd15-tiny-single":
        options["sd_model_checkpoint"] = "sd15-tiny-single"
        reply = requests.post(f"{url}/options", json=options, headers=headers)
        assert reply.status_code == 200, reply.text
    data = {"prompt": "a lighthouse", "batch_size": 1, "width": 64, "height": 64, "steps": 2,
            "negative_prompt": "fog", "cfg_scale": 7, "sampler_name": "Euler a",
            "scheduler": "Automatic"}
    reply = requests.post(f"{url}/txt2img", json=data, headers=headers)
    assert reply.status_code == 200, reply.text
    res = reply.json()
    info = json.loads(res["info"])
    assert info["sd_model_name"] == "sd15-tiny-single", info
    for image in res["images"]:
        assert base64.b64decode(image)[:8] == b"\x89PNG\r\n\x1a\n"
    # Without AUTOMATIC1111_API_AUTH it sends an empty header: refused, with a Basic challenge.
    refused = requests.get(f"{url}/options", headers={"authorization": ""})
    assert refused.status_code == 401, refused.status_code
    assert refused.headers.get("WWW-Authenticate", "").startswith("Basic"), refused.headers
    wrong = requests.get(f"{url}/options", auth=(os.environ["DD_A1111_USER"], "dd_wrong"))
    assert wrong.status_code == 401, wrong.status_code


def main() -> int:
    base = sys.argv[1]
    api = connect(base)
    picture = None
    checks = [
        ("txt2img", lambda: None),
        ("img2img with a mask", lambda: check_img2img(api, picture)),
        ("models, samplers, schedulers, loras, options", lambda: check_lists_and_options(api)),
        ("png-info", lambda: check_png_info(api, picture)),
        ("progress and interrupt", lambda: check_progress_and_interrupt(api)),
        ("Open WebUI's requests", lambda: check_open_webui(base)),
    ]
    failed = 0
    for name, check in checks:
        try:
            if name == "txt2img":
                picture = check_txt2img(api)
            else:
                check()
            print(f"ok   {name}")
        except Exception:  # report every check, then fail
            failed += 1
            print(f"FAIL {name}")
            traceback.print_exc()
    print(f"{len(checks) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
