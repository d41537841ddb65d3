"""Schemathesis hooks for scripts/api-fuzz: keep generated generation requests cheap.

Valid requests really run the tiny fixture models, so a generated body asking for 150 steps at
1024x1024 would hold the CPU for minutes. Numbers above the caps below become the cap; values
that are invalid anyway (negative, wrong type, not a multiple of 8) are left alone so that
validation is still exercised.
"""
import re

import schemathesis

CAPS = {
    "steps": 2, "num_inference_steps": 2, "n_iter": 1, "batch_size": 1, "n": 1,
    "width": 64, "height": 64, "hr_second_pass_steps": 2, "hr_scale": 1,
    "hr_resize_x": 64, "hr_resize_y": 64, "num_images": 1, "count": 1,
}
SIZE = re.compile(r"^(\d+)x(\d+)$")


def _cheap(value):
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            cap = CAPS.get(key)
            if cap is not None and isinstance(item, (int, float)) and not isinstance(item, bool) \
                    and item > cap and (key not in ("width", "height") or item % 8 == 0):
                item = cap
            elif key == "size" and isinstance(item, str) and SIZE.match(item):
                item = "64x64" if int(SIZE.match(item).group(1)) > 64 else item
            else:
                item = _cheap(item)
            out[key] = item
        return out
    if isinstance(value, list):
        return [_cheap(item) for item in value]
    return value


@schemathesis.hook
def map_case(context, case):
    if isinstance(case.body, (dict, list)):
        case.body = _cheap(case.body)
    if isinstance(case.query, dict):
        case.query = _cheap(case.query)
    return case
