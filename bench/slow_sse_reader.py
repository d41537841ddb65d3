#!/usr/bin/env python3
"""Does a slow reader of a job's event stream slow the job down?

Starts `diffusiond serve` on a free loopback port and runs the same job (fixed seed) in rounds,
alternating: no reader at all, then SLOW_READERS readers of GET /v0/api/jobs/:id/events that each
read one byte a second. A job's duration is the server's own record (its IN_PROGRESS and SUCCESS
status times), so the readers' socket work on the client side does not count. Prints
min/median/max per condition and whether the slow-reader median lies within the no-reader
run-to-run spread (max - min). A benchmark, not a test: run it on an otherwise idle machine.

Usage: bench/slow_sse_reader.py SERVER_BINARY MODELS_DIR MODEL [--rounds 5] [--steps 20]
       [--width 256] [--height 256] [--readers 4] [--preview-every 1]
"""
import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(base, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=600) as response:
        return json.loads(response.read())


def slow_reader(port, job_id, stop):
    """Opens the event stream and reads it one byte a second until `stop` is set."""
    try:
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.sendall(f"GET /v0/api/jobs/{job_id}/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      "Accept: text/event-stream\r\n\r\n".encode())
            while not stop.is_set():
                if not s.recv(1):
                    return
                time.sleep(1)
    except OSError:
        pass  # the server dropped a reader too slow for its write timeout: that is allowed


def job_seconds(job):
    """Seconds between the job's IN_PROGRESS and SUCCESS status records (server clock)."""
    times = {s["status"]: s["created"] for s in job["statuses"]}
    return (times["SUCCESS"] - times["IN_PROGRESS"]) / 1000.0


def run_job(base, port, args, readers):
    created = call(base, "POST", "/v0/api/images",
                   {"prompt": "a lighthouse on a cliff at dusk", "seed": 1, "steps": args.steps,
                    "width": args.width, "height": args.height, "model": args.model})
    job_id = created["jobId"]
    stop = threading.Event()
    threads = [threading.Thread(target=slow_reader, args=(port, job_id, stop), daemon=True)
               for _ in range(readers)]
    for t in threads:
        t.start()
    while True:
        job = call(base, "GET", f"/v0/api/jobs/{job_id}")["job"]
        if job["status"] in ("SUCCESS", "FAILED", "CANCELLED"):
            break
        time.sleep(0.05)
    stop.set()
    if job["status"] != "SUCCESS":
        sys.exit(f"job {job_id} ended {job['status']}: {job.get('error')}")
    return job_seconds(job)


def summary(name, values):
    return (f"{name:>14}: min {min(values):.3f} s  median {statistics.median(values):.3f} s  "
            f"max {max(values):.3f} s  (n={len(values)})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("server")
    parser.add_argument("models_dir")
    parser.add_argument("model")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--height", type=int, default=256)
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--preview-every", type=int, default=1)
    args = parser.parse_args()

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as data:
        server = subprocess.Popen(
            [args.server, "serve", "--host", "127.0.0.1", "--port", str(port), "--models-dir",
             args.models_dir, "--data-dir", data, "--default-model", args.model,
             "--preview-every", str(args.preview_every)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(600):
                try:
                    call(base, "GET", "/health")
                    break
                except OSError:
                    time.sleep(0.1)
            run_job(base, port, args, 0)  # warm-up: loads the model, fits the preview map
            plain, slow = [], []
            for _ in range(args.rounds):
                plain.append(run_job(base, port, args, 0))
                slow.append(run_job(base, port, args, args.readers))
        finally:
            server.terminate()
            server.wait()
    print(f"{args.model} {args.width}x{args.height}, {args.steps} steps, a preview every "
          f"{args.preview_every} step(s), {args.readers} reader(s) at 1 byte/s")
    print(summary("no reader", plain))
    print(summary("slow readers", slow))
    spread = max(plain) - min(plain)
    difference = statistics.median(slow) - statistics.median(plain)
    verdict = "within" if abs(difference) <= spread else "OUTSIDE"
    print(f"median difference {difference:+.3f} s, {verdict} the no-reader spread {spread:.3f} s")


if __name__ == "__main__":
    main()
