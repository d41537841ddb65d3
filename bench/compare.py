#!/usr/bin/env python3
"""Compares two `diffusiond bench --json` reports part by part: median seconds and efficiency
(which is relative to the ceiling measured in the same run, so it is the figure to compare
across runs on a busy or different machine).

    bench/compare.py OLD.json NEW.json
"""
import json
import sys

PARTS = ["text_encode", "unet_step", "unet_cfg_step", "vae_decode", "image"]


def main(old_path, new_path):
    with open(old_path) as f:
        old = json.load(f)
    with open(new_path) as f:
        new = json.load(f)
    for report, path in ((old, old_path), (new, new_path)):
        print(f"{path}: {report['arch']} {report['width']}x{report['height']} {report['dtype']}, "
              f"ceiling {report['ceiling']['tflops']:.3f} TFLOP/s")
    print(f"{'part':16} {'old s':>9} {'new s':>9} {'speedup':>8} {'old eff':>8} {'new eff':>8}")
    for part in PARTS:
        a, b = old[part], new[part]
        speedup = a["seconds"] / b["seconds"] if b["seconds"] else float("nan")
        print(f"{part:16} {a['seconds']:9.3f} {b['seconds']:9.3f} {speedup:7.2f}x "
              f"{100 * a['efficiency']:7.1f}% {100 * b['efficiency']:7.1f}%")
    a, b = old["checkpoint_load"]["seconds"], new["checkpoint_load"]["seconds"]
    print(f"{'checkpoint_load':16} {a:9.3f} {b:9.3f}")
    gib = 1 << 30
    print(f"{'peak_rss GiB':16} {old['peak_rss_bytes'] / gib:9.2f} {new['peak_rss_bytes'] / gib:9.2f}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
