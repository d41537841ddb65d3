#!/usr/bin/env python3
"""Clients for bench/batching.sh: throughput of a running `diffusiond serve` under C concurrent
clients, each keeping exactly one request in flight.

  batching_clients.py run BASE --concurrency C --jobs-per-client N [--width W --height H
      --steps S --sampler NAME --label TEXT]
      prints one JSON object: images, wall seconds, images/s, each request's latency and the
      server's per-image inference seconds.
  batching_clients.py batches DATABASE
      prints which jobs of a finished server's SQLite database ran in one batch: with one worker,
      jobs run one at a time unless batched, so jobs whose IN_PROGRESS..SUCCESS spans overlap
      were one batch. {"jobs", "batched_jobs", "batch_sizes": {size: count}}.
  batching_clients.py summarize CELLS.jsonl
      prints the Markdown table of bench/README.md (median [min-max] per cell and the ratio).

Requests go to the synchronous generation API (POST /api/v1/images/generation, API.md section
3): the answer comes when the job is done, so a client needs no polling (which would itself load
a 2-core machine) to keep one job in flight. Every request has its own prompt and seed; size,
steps, sampler and guidance are the same for all, so the server may batch them.
"""
import argparse
import json
import sqlite3
import statistics
import sys
import threading
import time

import requests

SUBJECTS = ["a red circle", "a blue square", "a green triangle", "a yellow star", "two purple dots",
            "an orange ring", "a white cross", "a black diamond"]
PLACES = ["on a grey background", "above a horizon", "in the corner", "at the centre"]


def prompt(n):
    return f"{SUBJECTS[n % len(SUBJECTS)]} {PLACES[(n // len(SUBJECTS)) % len(PLACES)]}, #{n}"


def generate(session, base, args, n):
    body = {"prompt": prompt(n), "seed": 1000 + n, "width": args.width, "height": args.height,
            "num_steps": args.steps, "sampler": args.sampler, "guidance_scale": 7.0}
    start = time.monotonic()
    response = session.post(f"{base}/api/v1/images/generation", json=body, timeout=600)
    latency = time.monotonic() - start
    if response.status_code != 200:
        raise RuntimeError(f"request {n}: HTTP {response.status_code}: {response.text[:300]}")
    data = response.json()["data"]
    return latency, [image["timings"]["inference"] for image in data]


def run_clients(base, args, concurrency, jobs_per_client, first_job):
    """C threads, each doing its jobs back to back; returns (wall seconds, per-job results)."""
    results = [[] for _ in range(concurrency)]
    errors = []
    barrier = threading.Barrier(concurrency + 1)

    def client(index):
        session = requests.Session()
        barrier.wait()
        try:
            for j in range(jobs_per_client):
                n = first_job + index * jobs_per_client + j
                results[index].append(generate(session, base, args, n))
        except Exception as e:  # reported after the join, the run is then invalid
            errors.append(str(e))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.monotonic()
    for thread in threads:
        thread.join()
    wall = time.monotonic() - start
    if errors:
        raise RuntimeError("; ".join(errors))
    return wall, [r for per_client in results for r in per_client]


def run(args):
    # Warm-up, untimed: one job per client at once, so both servers have loaded the model and
    # seen the batch shapes they will run (oneDNN's primitive cache is per shape).
    run_clients(args.base, args, args.concurrency, 1, first_job=0)
    wall, done = run_clients(args.base, args, args.concurrency, args.jobs_per_client,
                             first_job=args.concurrency)
    latencies = [latency for latency, _ in done]
    inference = [seconds for _, per_image in done for seconds in per_image]
    images = len(inference)
    print(json.dumps({
        "label": args.label, "concurrency": args.concurrency,
        "jobs_per_client": args.jobs_per_client, "width": args.width, "height": args.height,
        "steps": args.steps, "sampler": args.sampler, "images": images,
        "wall_seconds": round(wall, 3), "images_per_second": round(images / wall, 4),
        "latency_median_seconds": round(statistics.median(latencies), 3),
        "inference_median_seconds": round(statistics.median(inference), 3),
    }))


def batches(database):
    spans = {}
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        for job_id, status, ms in db.execute(
                "SELECT job_id, status, created_ms FROM job_statuses "
                "WHERE status IN ('IN_PROGRESS', 'SUCCESS')"):
            spans.setdefault(job_id, {})[status] = ms
    runs = sorted((s["IN_PROGRESS"], s["SUCCESS"]) for s in spans.values() if len(s) == 2)
    groups = []  # [end of the group's latest job, jobs in it]
    for start, end in runs:
        if groups and start < groups[-1][0]:
            groups[-1] = [max(groups[-1][0], end), groups[-1][1] + 1]
        else:
            groups.append([end, 1])
    sizes = {}
    for _, size in groups:
        sizes[size] = sizes.get(size, 0) + 1
    print(json.dumps({"jobs": len(runs), "batched_jobs": sum(n for _, n in groups if n > 1),
                      "batch_sizes": {str(k): v for k, v in sorted(sizes.items())}}))


def summarize(path):
    cells = {}
    with open(path) as f:
        for line in f:
            if line.strip():
                cell = json.loads(line)
                cells.setdefault((cell["concurrency"], cell["max_batch"]), []).append(cell)
    modes = sorted({mode for _, mode in cells})
    unbatched, batched = modes[0], modes[-1]

    def figure(values):
        return f"{statistics.median(values):.2f} [{min(values):.2f}-{max(values):.2f}]"

    print(f"| concurrent clients | --max-batch {unbatched}: images/s | "
          f"--max-batch {batched}: images/s | ratio (medians) | jobs that ran batched (batches: count x size) | "
          f"median latency {unbatched} / {batched} (s) | load avg before-after |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for concurrency in sorted({c for c, _ in cells}):
        alone = cells.get((concurrency, unbatched), [])
        together = cells.get((concurrency, batched), [])
        if not alone or not together:
            continue
        a = [cell["images_per_second"] for cell in alone]
        b = [cell["images_per_second"] for cell in together]
        in_batch = sum(cell["batched_jobs"] for cell in together)
        total = sum(cell["jobs"] for cell in together)
        sizes = {}
        for cell in together:
            for size, count in cell["batch_sizes"].items():
                sizes[int(size)] = sizes.get(int(size), 0) + count
        size_text = ", ".join(f"{count}x{size}" for size, count in sorted(sizes.items()))
        load = [cell["load_before"] for cell in alone + together] + \
               [cell["load_after"] for cell in alone + together]
        print(f"| {concurrency} | {figure(a)} | {figure(b)} | "
              f"{statistics.median(b) / statistics.median(a):.2f} | "
              f"{in_batch}/{total} ({size_text}) | "
              f"{statistics.median(c['latency_median_seconds'] for c in alone):.2f} / "
              f"{statistics.median(c['latency_median_seconds'] for c in together):.2f} | "
              f"{min(load):.2f}-{max(load):.2f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    r = commands.add_parser("run")
    r.add_argument("base")
    r.add_argument("--concurrency", type=int, required=True)
    r.add_argument("--jobs-per-client", type=int, required=True)
    r.add_argument("--width", type=int, default=64)
    r.add_argument("--height", type=int, default=64)
    r.add_argument("--steps", type=int, default=20)
    r.add_argument("--sampler", default="Euler a")
    r.add_argument("--label", default="")
    b = commands.add_parser("batches")
    b.add_argument("database")
    s = commands.add_parser("summarize")
    s.add_argument("cells")
    args = parser.parse_args()
    if args.command == "run":
        run(args)
    elif args.command == "batches":
        batches(args.database)
    else:
        summarize(args.cells)


if __name__ == "__main__":
    sys.exit(main())
