"""The HTTP side of the multi-node failure test (run.sh owns the processes: PostgreSQL, the API
node, the workers). Each subcommand is one step; the jobs it submits are appended to a state
file (one JSON object per line: id, account, samples) so that later steps check every job
accepted so far. Keys come from DD_KEY_<ACCOUNT> (DD_KEY_ALICE, DD_KEY_BOB).

  python check.py ready BASE STATUS [--problem WORD] [--deadline S]
  python check.py submit BASE STATE --per-account N --steps S --size PX
  python check.py wait-started BASE STATE          prints the id of a job seen starting
  python check.py wait-all BASE STATE [--deadline S]
  python check.py cancel BASE STATE                a running job cancelled through the API node
  python check.py events BASE STATE                the API node streams a worker's progress
  python check.py outage BASE STATE                requests that need the database answer 503
  python check.py soak BASE STATE --seconds S
"""

import argparse
import json
import os
import random
import sys
import threading
import time

import requests

ACCOUNTS = ("alice", "bob")
FINAL = ("SUCCESS", "FAILED", "CANCELLED")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TIMEOUT = 60  # seconds for one HTTP request
OUTAGE_TIMEOUT = 20  # a request while PostgreSQL is down must not wait for it


class Failure(Exception):
    pass


def key_of(account: str) -> str:
    return os.environ["DD_KEY_" + account.upper()]


def headers(account: str) -> dict:
    return {"Authorization": "Bearer " + key_of(account)}


def read_state(path: str) -> list:
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as state:
        return [json.loads(line) for line in state if line.strip()]


def append_state(path: str, jobs: list, lock=threading.Lock()) -> None:
    with lock, open(path, "a", encoding="utf-8") as state:
        for job in jobs:
            state.write(json.dumps(job) + "\n")


def submit_one(base: str, account: str, steps: int, size: int, samples: int = 1) -> dict:
    body = {"prompt": f"a lighthouse for {account}", "steps": steps, "width": size,
            "height": size, "samples": samples, "seed": random.randrange(1, 2**31)}
    response = requests.post(f"{base}/v0/api/images", json=body, headers=headers(account),
                             timeout=TIMEOUT)
    if response.status_code != 200:
        raise Failure(f"POST /v0/api/images for {account}: {response.status_code} {response.text}")
    return {"id": response.json()["jobId"], "account": account, "samples": samples}


def get_job(base: str, job: dict) -> dict:
    response = requests.get(f"{base}/v0/api/jobs/{job['id']}", headers=headers(job["account"]),
                            timeout=TIMEOUT)
    if response.status_code != 200:
        raise Failure(f"GET job {job['id']}: {response.status_code} {response.text}")
    return response.json()["job"]


def check_finished(base: str, job: dict, record: dict) -> None:
    """A job that ended: SUCCESS exactly once in its history, one output per sample, and each
    output's bytes a PNG."""
    if record["status"] != "SUCCESS":
        raise Failure(f"job {job['id']} of {job['account']} ended {record['status']}: "
                      f"{json.dumps(record.get('statuses'))}")
    successes = [s for s in record.get("statuses", []) if s["status"] == "SUCCESS"]
    if len(successes) != 1:
        raise Failure(f"job {job['id']} has {len(successes)} SUCCESS entries in its statuses: "
                      f"{json.dumps(record['statuses'])}")
    outputs = record.get("outputFiles", [])
    if len(outputs) != job["samples"]:
        raise Failure(f"job {job['id']} has {len(outputs)} output files, wanted {job['samples']}")
    for output in outputs:
        response = requests.get(output["url"], headers=headers(job["account"]), timeout=TIMEOUT)
        if response.status_code != 200 or not response.content.startswith(PNG_SIGNATURE):
            raise Failure(f"output {output['url']} of job {job['id']}: {response.status_code}")


def image_total(base: str, account: str) -> int:
    response = requests.get(f"{base}/v1/images", params={"limit": 1}, headers=headers(account),
                            timeout=TIMEOUT)
    if response.status_code != 200:
        raise Failure(f"GET /v1/images for {account}: {response.status_code} {response.text}")
    return response.json()["total"]


def cmd_ready(args) -> None:
    deadline = time.monotonic() + args.deadline
    last = None
    while time.monotonic() < deadline:
        try:
            response = requests.get(f"{args.base}/ready", timeout=TIMEOUT)
            last = f"{response.status_code} {response.text}"
            if response.status_code == args.status:
                if args.problem and args.problem not in response.text.lower():
                    raise Failure(f"/ready answered {last}, with no problem naming '{args.problem}'")
                print(f"PASS: /ready answers {args.status}")
                return
        except requests.RequestException as error:
            last = str(error)
        time.sleep(0.2)
    raise Failure(f"/ready did not answer {args.status} within {args.deadline} s; last: {last}")


def cmd_submit(args) -> None:
    jobs = [submit_one(args.base, account, args.steps, args.size)
            for _ in range(args.per_account) for account in ACCOUNTS]
    append_state(args.state, jobs)
    print(f"PASS: {len(jobs)} jobs accepted from {len(ACCOUNTS)} accounts")


def cmd_wait_started(args) -> None:
    """Polls the unfinished jobs until one goes from CREATED to IN_PROGRESS between two polls:
    a job that has only just started, so that it is still running when run.sh kills its
    worker."""
    jobs = read_state(args.state)
    seen = {}
    deadline = time.monotonic() + args.deadline
    while time.monotonic() < deadline:
        for job in jobs:
            status = get_job(args.base, job)["status"]
            if status == "IN_PROGRESS" and seen.get(job["id"]) == "CREATED":
                print(job["id"])
                return
            seen[job["id"]] = status
        time.sleep(0.05)
    raise Failure(f"no job was seen starting within {args.deadline} s: {seen}")


def wait_all(base: str, jobs: list, deadline_s: float) -> None:
    deadline = time.monotonic() + deadline_s
    pending = list(jobs)
    records = {}
    while pending:
        still = []
        for job in pending:
            try:
                record = get_job(base, job)
            except (Failure, requests.RequestException) as error:
                if time.monotonic() > deadline:
                    raise Failure(f"job {job['id']} unreadable at the deadline: {error}")
                still.append(job)
                continue
            if record["status"] in FINAL:
                records[job["id"]] = record
            else:
                still.append(job)
        pending = still
        if pending and time.monotonic() > deadline:
            statuses = {job["id"]: get_job(base, job)["status"] for job in pending}
            raise Failure(f"{len(pending)} job(s) not finished after {deadline_s} s "
                          f"(lost or stuck): {statuses}")
        if pending:
            time.sleep(0.5)
    for job in jobs:
        check_finished(base, job, records[job["id"]])


def check_image_counts(base: str, jobs: list) -> None:
    """Each account has exactly one image object per sample of its jobs: a job run twice (its
    worker killed, or its lease lost during an outage) left no second set."""
    for account in ACCOUNTS:
        expected = sum(job["samples"] for job in jobs if job["account"] == account)
        total = image_total(base, account)
        if total != expected:
            raise Failure(f"account {account} has {total} image objects, wanted {expected} "
                          f"(one per sample of its {len(jobs)} succeeded jobs)")
    print(f"PASS: image objects per account match the succeeded jobs' samples")


def cmd_wait_all(args) -> None:
    jobs = read_state(args.state)
    wait_all(args.base, jobs, args.deadline)
    print(f"PASS: all {len(jobs)} accepted jobs ended SUCCESS exactly once, outputs readable")
    check_image_counts(args.base, jobs)


def cmd_cancel(args) -> None:
    """A long job, cancelled through the API node while a worker runs it, ends CANCELLED within
    a few seconds (the worker reads the flag after every step), not after its many steps. The
    job is not added to the state file: it never succeeds."""
    job = submit_one(args.base, "alice", 150, 256, samples=2)  # the most steps allowed
    deadline = time.monotonic() + args.deadline
    while get_job(args.base, job)["status"] != "IN_PROGRESS":
        if time.monotonic() > deadline:
            raise Failure(f"job {job['id']} did not start within {args.deadline} s")
        time.sleep(0.05)
    response = requests.post(f"{args.base}/v0/api/jobs/{job['id']}/cancel",
                             headers=headers("alice"), timeout=TIMEOUT)
    if response.status_code != 200:
        raise Failure(f"cancel: {response.status_code} {response.text}")
    while (record := get_job(args.base, job))["status"] not in FINAL:
        if time.monotonic() > deadline:
            raise Failure(f"job {job['id']} still {record['status']} {args.deadline} s after cancel")
        time.sleep(0.05)
    if record["status"] != "CANCELLED":
        raise Failure(f"job {job['id']} ended {record['status']}, not CANCELLED")
    print(f"PASS: a running job cancelled through the API node ended CANCELLED on its worker")


def cmd_events(args) -> None:
    """A job submitted to the API node runs on a worker; its event stream on the API node
    carries the worker's progress events (relayed between nodes), then the final job."""
    job = submit_one(args.base, "alice", 40, 128)
    append_state(args.state, [job])
    types, final = [], None
    with requests.get(f"{args.base}/v0/api/jobs/{job['id']}/events", headers=headers("alice"),
                      stream=True, timeout=args.deadline) as response:
        if response.status_code != 200:
            raise Failure(f"GET events: {response.status_code} {response.text}")
        event, data = "", ""
        for line in response.iter_lines(decode_unicode=True):
            if line.startswith("event: "):
                event = line[len("event: "):]
            elif line.startswith("data: "):
                data = line[len("data: "):]
            elif line == "" and event:
                types.append(event)
                if event == "job":
                    final = json.loads(data)
                    break
                event, data = "", ""
    if final is None:
        raise Failure(f"the event stream ended without its job event (saw {types})")
    progress = types.count("progress")
    if progress == 0:
        raise Failure(f"no progress event reached the API node's stream (saw {types})")
    status = final.get("job", final).get("status")
    if status != "SUCCESS":
        raise Failure(f"the stream's final job is {status}")
    print(f"PASS: the API node streamed {progress} progress events of a job run on a worker, "
          f"then the job")


def expect_503(response: requests.Response, what: str) -> None:
    if response.status_code != 503:
        raise Failure(f"{what} while PostgreSQL is down: {response.status_code}, wanted 503; "
                      f"{response.text[:300]}")
    if not response.headers.get("Retry-After"):
        raise Failure(f"{what} answered 503 with no Retry-After header")
    try:
        body = response.json()
    except ValueError:
        raise Failure(f"{what} answered 503 with a body that is not JSON: {response.text[:300]}")
    if "error" not in body:
        raise Failure(f"{what} answered 503 with no error object: {body}")


def request_during_outage(method: str, url: str, what: str, **kwargs) -> requests.Response:
    try:
        return requests.request(method, url, timeout=OUTAGE_TIMEOUT, **kwargs)
    except requests.RequestException as error:
        raise Failure(f"{what} got no answer within {OUTAGE_TIMEOUT} s while PostgreSQL is down "
                      f"(wanted an answer at once): {error}")


def cmd_outage(args) -> None:
    """Run while PostgreSQL is stopped: the node stays up (/health), and reading a job and
    submitting one answer 503 with Retry-After (after at most a few tries, while the node
    notices its connection is gone)."""
    health = request_during_outage("GET", f"{args.base}/health", "GET /health")
    if health.status_code != 200:
        raise Failure(f"/health while PostgreSQL is down: {health.status_code}")
    job = read_state(args.state)[0]
    deadline = time.monotonic() + args.deadline
    while True:
        response = request_during_outage("GET", f"{args.base}/v0/api/jobs/{job['id']}",
                                         "GET /v0/api/jobs/:id", headers=headers(job["account"]))
        if response.status_code == 503 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    expect_503(response, "GET /v0/api/jobs/:id")
    response = request_during_outage("POST", f"{args.base}/v0/api/images", "POST /v0/api/images",
                                     json={"prompt": "refused", "steps": 2},
                                     headers=headers("bob"))
    expect_503(response, "POST /v0/api/images")
    print("PASS: while PostgreSQL is down, /health answers 200, GET and POST 503 with Retry-After")


def soak_loop(args, account: str, stop_at: float, accepted: list, errors: list) -> None:
    """One client: keeps up to --concurrency of its jobs in flight, polls them, and fetches
    each finished job's outputs."""
    in_flight = []
    try:
        while time.monotonic() < stop_at or in_flight:
            while time.monotonic() < stop_at and len(in_flight) < args.concurrency:
                job = submit_one(args.base, account, random.randint(2, 8), 64,
                                 random.choice((1, 1, 2)))
                append_state(args.state, [job])
                accepted.append(job)
                in_flight.append(job)
            for job in list(in_flight):
                record = get_job(args.base, job)
                if record["status"] in FINAL:
                    check_finished(args.base, job, record)
                    in_flight.remove(job)
            if time.monotonic() > stop_at + args.drain:
                raise Failure(f"{account}: {len(in_flight)} job(s) still unfinished "
                              f"{args.drain} s after the soak: {[j['id'] for j in in_flight]}")
            time.sleep(0.2)
    except Exception as error:  # reported by the main thread
        errors.append(f"{account}: {error}")


def cmd_soak(args) -> None:
    stop_at = time.monotonic() + args.seconds
    accepted = {account: [] for account in ACCOUNTS}
    errors = []
    threads = [threading.Thread(target=soak_loop, args=(args, a, stop_at, accepted[a], errors))
               for a in ACCOUNTS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise Failure("; ".join(errors))
    counts = ", ".join(f"{a}: {len(accepted[a])}" for a in ACCOUNTS)
    print(f"PASS: soak of {args.seconds} s, every job finished SUCCESS and its outputs were "
          f"fetched ({counts} jobs)")
    check_image_counts(args.base, read_state(args.state))


def main() -> int:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    ready = commands.add_parser("ready")
    ready.add_argument("base")
    ready.add_argument("status", type=int)
    ready.add_argument("--problem", default="")
    ready.add_argument("--deadline", type=float, default=60)
    for name in ("submit", "wait-started", "wait-all", "cancel", "events", "outage", "soak"):
        command = commands.add_parser(name)
        command.add_argument("base")
        command.add_argument("state")
        command.add_argument("--deadline", type=float, default=60)
        if name == "submit":
            command.add_argument("--per-account", type=int, required=True)
            command.add_argument("--steps", type=int, required=True)
            command.add_argument("--size", type=int, required=True)
        if name == "soak":
            command.add_argument("--seconds", type=float, required=True)
            command.add_argument("--concurrency", type=int, default=3)
            command.add_argument("--drain", type=float, default=300)
    args = parser.parse_args()
    handler = {"ready": cmd_ready, "submit": cmd_submit, "wait-started": cmd_wait_started,
               "wait-all": cmd_wait_all, "cancel": cmd_cancel, "events": cmd_events, "outage": cmd_outage, "soak": cmd_soak}[args.command]
    try:
        handler(args)
    except (Failure, requests.RequestException, KeyError) as error:
        print(f"FAIL: {args.command}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
