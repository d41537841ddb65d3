"""The playground in a real browser (headless Chromium through chromedriver, Selenium): the page
and its files are served without a key and forbid what they do not need; a user enters the key,
types a prompt, clicks Generate, sees live progress and previews and the final image, publishes
the image from the gallery and opens its public address, unpublishes and deletes; image to image
with a painted mask, a LoRA, and image to image with a LoRA — each a job of the jobs API followed
live through its event stream; the keyboard alone; a phone-sized screen.
Usage: python check.py http://127.0.0.1:PORT WORK_DIR   (DD_API_KEY: the server's key;
DD_PLAYGROUND_SCREENSHOT, DD_PLAYGROUND_PHONE_SCREENSHOT: where to save screenshots, optional)

What the page saw of a job's progress is read from its own log (window.ddProgressLog), never by
racing the display.
"""

import os
import struct
import sys
import time
import traceback
import urllib.error
import urllib.request
import zlib

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
GENERATION_WAIT_S = 300  # the tiny models are fast; this only bounds a hang


def http_get(url: str, headers=None):
    """(status, headers, body) of a plain GET, errors included."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def png(width: int, height: int) -> bytes:
    """An 8-bit RGB PNG with a diagonal gradient."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + b"".join(bytes(((x * 4) % 256, (y * 4) % 256, 128))
                                       for x in range(width)) for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (PNG_SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


class Page:
    def __init__(self, driver, base: str):
        self.driver = driver
        self.base = base

    def el(self, css: str):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def els(self, css: str):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def js(self, script: str, *args):
        return self.driver.execute_script(script, *args)

    def wait(self, what: str, condition, timeout=60):
        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.1).until(
                lambda _: condition())
        except TimeoutException:
            raise AssertionError(f"timed out waiting for {what}; page log: {self.log()[-10:]}; "
                                 f"status: {self.el('#progress-text').text!r}; "
                                 f"error: {self.el('#error').text!r}")

    def log(self):
        return self.js("return window.ddProgressLog || []")

    def log_since(self, mark: int):
        return self.log()[mark:]

    def open(self):
        self.driver.get(self.base + "/")
        self.wait("the page's script", lambda: self.js("return Array.isArray(window.ddProgressLog)"))

    def lists_loaded(self):
        self.wait("the model list", lambda: len(self.els("#model option")) > 1)

    def set_field(self, css: str, value):
        field = self.el(css)
        field.clear()
        if value != "":
            field.send_keys(str(value))

    def generate_and_wait(self, click=True):
        """Clicks Generate (unless the caller pressed it) and waits for the run to end; answers
        the log entries of this run."""
        mark = len(self.log())
        if click:
            self.el("#generate").click()
        self.wait("the run to end",
                  lambda: any(e["type"] in ("done", "error") for e in self.log_since(mark)),
                  GENERATION_WAIT_S)
        entries = self.log_since(mark)
        errors = [e for e in entries if e["type"] == "error"]
        assert not errors, f"the page reported an error: {errors}"
        return entries


def check_served_files(base: str, key: str) -> None:
    status, headers, body = http_get(base + "/")
    assert status == 200, f"GET / without a key: {status}"
    assert headers["Content-Type"].startswith("text/html"), headers["Content-Type"]
    csp = headers["Content-Security-Policy"] or ""
    for directive in ("default-src 'self'", "img-src 'self' data: blob:", "connect-src 'self'"):
        assert directive in csp, f"CSP lacks {directive}: {csp}"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"], "no Cache-Control"
    assert b"http://" not in body and b"https://" not in body, "the page names an external URL"
    for name, kind in (("app.js", "text/javascript"), ("api.js", "text/javascript"),
                       ("style.css", "text/css")):
        status, headers, body = http_get(f"{base}/playground/{name}")
        assert status == 200 and headers["Content-Type"].startswith(kind), (name, status)
        assert b"https://" not in body, f"{name} names an external URL"
    status, _, _ = http_get(base + "/playground/missing.js")
    assert status == 404, f"an unknown file: {status}"
    status, _, _ = http_get(base + "/v1/images")
    assert status == 401, f"the API without a key: {status}"
    status, _, _ = http_get(base + "/v1/images", {"Authorization": "Bearer " + key})
    assert status == 200


def enter_key(page: Page, key: str) -> None:
    page.open()
    page.wait("the page to ask for a key", lambda: "API key" in page.el("#key-status").text)
    page.el("#api-key").send_keys(key)
    page.el("#key-save").click()
    page.lists_loaded()
    stored = page.js("return sessionStorage.getItem('diffusiond.apiKey')")
    assert stored == key, "the key is not in session storage"
    assert page.js("return localStorage.length") == 0, "something was put in local storage"


def assert_live_progress(entries, steps, what: str) -> None:
    """The run was a job whose progress the page saw up to the last step, with at least one
    preview. `steps` None: whatever number the job runs (img2img runs only the part of the
    schedule its strength asks for)."""
    kinds = [e["type"] for e in entries]
    assert "job" in kinds, f"{what}: no job was queued: {kinds}"
    progress = [e for e in entries if e["type"] == "progress"]
    assert progress, f"{what}: no progress was shown: {kinds}"
    if steps is None:
        steps = progress[-1]["steps"]
    assert all(e["steps"] == steps for e in progress), f"{what}: {progress}"
    assert progress[-1]["step"] == steps, f"{what}: progress stopped at {progress[-1]}"
    assert any(e["type"] == "preview" for e in entries), f"{what}: no preview was shown: {kinds}"


def load_starting_image(page: Page, work: str) -> None:
    picture = os.path.join(work, "start.png")
    with open(picture, "wb") as f:
        f.write(png(64, 64))
    if not page.el("#init-image").is_displayed():
        page.el("#img2img summary").click()
    page.el("#init-image").send_keys(picture)
    page.wait("the starting image", lambda: page.el("#canvas-box").is_displayed())


def generate_with_progress(page: Page) -> None:
    page.el("#prompt").send_keys("a red cube on a blue floor")
    page.set_field("#steps", 8)
    page.set_field("#seed", 42)
    entries = page.generate_and_wait()
    kinds = [e["type"] for e in entries]
    assert "job" in kinds, f"no job was queued: {kinds}"
    progress = [e for e in entries if e["type"] == "progress"]
    assert progress, f"no progress was shown: {kinds}"
    assert all(e["steps"] == 8 for e in progress), progress
    assert progress[-1]["step"] == 8, f"progress stopped at {progress[-1]}"
    previews = [e for e in entries if e["type"] == "preview"]
    assert previews, f"no preview was shown: {kinds}"
    src = page.el("#preview").get_attribute("src")
    assert src.startswith("data:image/png;base64,"), f"preview src: {src[:40]}"
    assert page.el("#progress").get_attribute("value") == "8"
    results = page.els("#results img")
    assert len(results) == 1, f"{len(results)} results"
    page.wait("the result to decode",
              lambda: page.js("return arguments[0].complete && arguments[0].naturalWidth",
                              results[0]) == 64)
    print(f"ok generate: {len(progress)} progress and {len(previews)} preview events, result shown")
    assert not page.el("#mask-tools").is_displayed(), "the mask tools show with no image"



def publish_and_open(page: Page, key: str) -> str:
    page.wait("the gallery", lambda: len(page.els("#gallery .card")) >= 1)
    card = page.els("#gallery .card")[0]
    image_id = card.get_attribute("data-image-id")
    mark = len(page.log())
    card.find_element(By.CSS_SELECTOR, "button.publish").click()
    page.wait("publishing", lambda: any(e["type"] == "publish" for e in page.log_since(mark)))
    link = card.find_element(By.CSS_SELECTOR, "a.public-url")
    url = link.get_attribute("href")
    assert "/public/images/" in url, url
    assert card.find_element(By.CSS_SELECTOR, "button.publish").text == "Unpublish"
    assert not page.el("#gallery-more").is_displayed(), "'Show more' with every image shown"

    # Opened in a new tab, as a visitor would: no key.
    main = page.driver.current_window_handle
    page.driver.switch_to.new_window("tab")
    page.driver.get(url)
    content_type = page.js("return document.contentType")
    assert content_type.startswith("image/"), f"the public URL shows {content_type}"
    page.driver.close()
    page.driver.switch_to.window(main)
    status, headers, body = http_get(url)
    assert status == 200 and body.startswith(PNG_SIGNATURE), f"public URL: {status}"
    print(f"ok publish: {image_id} is public at {url}")
    return url


def unpublish_and_delete(page: Page, key: str, public_url: str) -> None:
    card = page.els("#gallery .card")[0]
    image_id = card.get_attribute("data-image-id")
    mark = len(page.log())
    card.find_element(By.CSS_SELECTOR, "button.publish").click()
    page.wait("unpublishing", lambda: any(e["type"] == "unpublish" for e in page.log_since(mark)))
    status, _, _ = http_get(public_url)
    assert status == 404, f"the withdrawn public URL answers {status}"

    before = len(page.els("#gallery .card"))
    card.find_element(By.CSS_SELECTOR, "button.delete").click()
    page.driver.switch_to.alert.accept()
    page.wait("deleting", lambda: any(e["type"] == "delete" for e in page.log_since(mark)))
    assert len(page.els("#gallery .card")) == before - 1
    status, _, _ = http_get(f"{page.base}/v1/images/{image_id}",
                            {"Authorization": "Bearer " + key})
    assert status == 404, f"the deleted image answers {status}"
    print("ok unpublish and delete")


def inpaint(page: Page, work: str) -> None:
    load_starting_image(page, work)
    canvas = page.el("#mask-canvas")
    page.js("arguments[0].scrollIntoView({block: 'center'})", canvas)
    ActionChains(page.driver).move_to_element(canvas).click_and_hold().move_by_offset(
        30, 10).move_by_offset(-10, 30).release().perform()
    assert page.js("return document.getElementById('mask-status').textContent") == "Mask painted."
    Select(page.el("#model")).select_by_value("sd15-inpaint-tiny")
    page.set_field("#steps", 4)
    entries = page.generate_and_wait()
    done = [e for e in entries if e["type"] == "done"]
    assert done and done[0]["images"] == 1, entries
    assert_live_progress(entries, 4, "inpainting")
    assert [e["what"] for e in entries if e["type"] == "job"] == ["inpainting"], entries
    assert page.el("#results img").get_attribute("src").startswith("blob:")
    page.el("#init-remove").click()
    Select(page.el("#model")).select_by_value("")
    print("ok inpainting with a painted mask, with live progress")


def with_lora(page: Page, work: str) -> None:
    page.el("#lora-list input[type=checkbox]").click()
    page.set_field("#steps", 2)
    entries = page.generate_and_wait()
    assert any(e["type"] == "done" and e["images"] == 1 for e in entries), entries
    assert_live_progress(entries, 2, "LoRA")
    assert [e["what"] for e in entries if e["type"] == "job"] == ["with LoRAs"], entries
    print("ok LoRA, with live progress")

    # A LoRA and a starting image together: image to image (no mask) with the LoRA.
    load_starting_image(page, work)
    page.set_field("#steps", 8)
    entries = page.generate_and_wait()
    assert any(e["type"] == "done" and e["images"] == 1 for e in entries), entries
    assert_live_progress(entries, None, "image to image with a LoRA")
    assert [e["what"] for e in entries if e["type"] == "job"] == ["image to image"], entries
    page.el("#init-remove").click()
    page.el("#lora-list input[type=checkbox]").click()
    print("ok image to image with a LoRA, with live progress")


def keyboard_only(page: Page) -> None:
    """Reloaded (the key stays for the tab), then only keys: Tab to the prompt, type, Tab to
    Generate, Enter."""
    page.open()
    page.lists_loaded()
    page.el("body").click()
    actions = ActionChains(page.driver)

    def tab_to(element_id: str) -> None:
        for _ in range(80):
            ActionChains(page.driver).send_keys(Keys.TAB).perform()
            if page.js("return document.activeElement.id") == element_id:
                outline = page.js("return getComputedStyle(document.activeElement).outlineStyle")
                assert outline != "none", f"#{element_id} has no visible focus"
                return
        raise AssertionError(f"Tab never reached #{element_id}")

    tab_to("prompt")
    actions.send_keys(Keys.CONTROL + "a").send_keys("keyboard only").perform()
    tab_to("generate")
    mark = len(page.log())
    ActionChains(page.driver).send_keys(Keys.ENTER).perform()
    page.wait("the run to start", lambda: any(e["type"] == "submit"
                                              for e in page.log_since(mark)))
    page.generate_and_wait(click=False)
    print("ok keyboard only")


def phone_sized(page: Page) -> None:
    page.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": 360, "height": 740, "deviceScaleFactor": 2, "mobile": True})
    page.open()
    page.lists_loaded()
    page.wait("the gallery", lambda: len(page.els("#gallery .card")) >= 1)
    page.el("#img2img summary").click()
    width = page.js("return window.innerWidth")
    scroll = page.js("return document.documentElement.scrollWidth")
    assert width == 360, f"viewport {width}"
    assert scroll <= width, f"the page scrolls sideways at 360 px: {scroll} > {width}"
    if os.environ.get("DD_PLAYGROUND_PHONE_SCREENSHOT"):
        page.driver.save_screenshot(os.environ["DD_PLAYGROUND_PHONE_SCREENSHOT"])
    page.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    print("ok phone-sized: no horizontal scroll at 360x740")


def no_console_errors(driver) -> None:
    """CSP violations and script errors are console errors; 401s before the key is given are
    expected."""
    bad = [entry["message"] for entry in driver.get_log("browser")
           if entry["level"] == "SEVERE" and "401" not in entry["message"]]
    assert not bad, f"console errors: {bad}"


def main() -> int:
    base, work = sys.argv[1], sys.argv[2]
    key = os.environ["DD_API_KEY"]
    os.makedirs(work, exist_ok=True)
    check_served_files(base, key)
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1280,1000", f"--user-data-dir={work}/profile"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    try:
        page = Page(driver, base)
        enter_key(page, key)
        generate_with_progress(page)
        url = publish_and_open(page, key)
        screenshot = os.environ.get("DD_PLAYGROUND_SCREENSHOT")
        if screenshot:  # tall enough to show the generator, progress and the gallery
            driver.set_window_size(1280, 1700)
            driver.execute_script("window.scrollTo(0, 0)")
            driver.save_screenshot(screenshot)
            driver.set_window_size(1280, 1000)
        unpublish_and_delete(page, key, url)
        inpaint(page, work)
        with_lora(page, work)
        keyboard_only(page)
        phone_sized(page)
        no_console_errors(driver)
    finally:
        driver.quit()
    print("browser playground: all checks passed")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception:  # noqa: BLE001 - report any failure with its trace
        traceback.print_exc()
        sys.exit(1)
