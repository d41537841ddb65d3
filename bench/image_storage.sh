#!/usr/bin/env bash
# Measures where image bytes could live when several machines share one service: files in a
# shared directory (what image_store does: temporary file, write, fsync, rename into blobs/xx/)
# against bytea rows in PostgreSQL (1 MiB chunks, one commit per image, fsync and
# synchronous_commit on). Same disk for both, same image-sized random blobs (incompressible, like
# PNG and JPEG bytes), one client, one image at a time.
#   bench/image_storage.sh [OUT_DIR]
# Writes OUT_DIR/runs.jsonl (one line per run, path and size class) and OUT_DIR/summary.txt
# (min/median/max). Counts and repeats from DD_IMG_BIG (1 MiB blobs, default 200), DD_IMG_SMALL
# (100 KiB blobs, default 1000) and DD_IMG_RUNS (default 5). Reads are cold (page cache dropped
# and PostgreSQL restarted) when /proc/sys/vm/drop_caches is writable (root); otherwise warm,
# and the summary says so. Needs python3 and PostgreSQL's server programs (scripts/setup).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
out="${1:-out/bench/image_storage}"
big=${DD_IMG_BIG:-200}
small=${DD_IMG_SMALL:-1000}
runs=${DD_IMG_RUNS:-5}
chunk=1048576
mkdir -p "$out"
out=$(cd "$out" && pwd)
: >"$out/runs.jsonl"

# shellcheck source=tests/lib/postgres.sh
source "$repo/tests/lib/postgres.sh"
# Sources and file store under /tmp, beside the cluster pg_start makes: the same disk for both.
work=$(mktemp -d /tmp/dd-imgbench-XXXXXX)
chmod 0755 "$work"  # the server (user postgres) reads the sources with pg_read_binary_file
cleanup() {
  pg_remove || true
  rm -rf "$work"
}
trap cleanup EXIT

cold=0
drop_caches() {
  sync
  if [[ $cold == 1 ]]; then echo 3 >/proc/sys/vm/drop_caches; fi
}
if [[ -w /proc/sys/vm/drop_caches ]] && (sync && echo 3 >/proc/sys/vm/drop_caches) 2>/dev/null; then
  cold=1
fi

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.6f", b - a }'; }
load() { cut -d' ' -f1 /proc/loadavg; }
compilers() { pgrep -c -x cc1plus || true; }

# The workload: random bytes named by their SHA-256, as the store names them.
python3 - "$work/src" "$big" "$small" <<'PY'
import hashlib, os, sys
root, big, small = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(root)
with open(os.path.join(root, "manifest"), "w") as manifest:
    for kind, count, size, ext in (("big", big, 1 << 20, "png"), ("small", small, 100 << 10, "jpg")):
        for _ in range(count):
            data = os.urandom(size)
            name = hashlib.sha256(data).hexdigest() + "." + ext
            with open(os.path.join(root, name), "wb") as f:
                f.write(data)
            os.chmod(os.path.join(root, name), 0o644)
            manifest.write(f"{kind} {name} {size}\n")
PY
chmod 0755 "$work/src"
warm_sources() { cat "$work/src"/*.png "$work/src"/*.jpg >/dev/null; }

# --- PostgreSQL: the test helper's cluster, made durable (it starts with fsync off) ----------
pg_start "$work"
pg_psql "ALTER SYSTEM SET fsync = on"
pg_psql "ALTER SYSTEM SET synchronous_commit = on"
pg_psql "ALTER SYSTEM SET full_page_writes = on"
pg_psql "ALTER SYSTEM SET shared_buffers = '128MB'"  # the server's default, not the helper's 16MB
pg_restart
settings=$(pg_psql "SELECT string_agg(name || '=' || current_setting(name), ' ' ORDER BY name) FROM pg_settings
  WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'shared_buffers',
                 'wal_sync_method', 'server_version')")
[[ $settings == *"fsync=on"* && $settings == *"synchronous_commit=on"* ]] ||
  { echo "FAIL: the server is not durable: $settings" >&2; exit 1; }

pg_file() {  # pg_file SQL_FILE: runs it through one connection, query output on stdout
  pg_as_server_user "$pg_bin/psql" --host="$pg_dir" --port=5432 --username=postgres \
    --dbname=diffusiond --no-psqlrc --tuples-only --no-align --quiet \
    --set=ON_ERROR_STOP=1 --file="$1"
}

# One statement per chunk; an image of several chunks is one transaction (a commit per image).
# The server reads the bytes from the source file itself: no hex or base64 on the way in.
for kind in big small; do
  while read -r k name size; do
    [[ $k == "$kind" ]] || continue
    n=$(((size + chunk - 1) / chunk))
    if ((n > 1)); then echo "BEGIN;"; fi
    for ((c = 0; c < n; c++)); do
      len=$((size - c * chunk < chunk ? size - c * chunk : chunk))
      echo "INSERT INTO blobs VALUES ('$name', $c, pg_read_binary_file('$work/src/$name', $((c * chunk)), $len));"
    done
    if ((n > 1)); then echo "COMMIT;"; fi
  done <"$work/src/manifest" >"$work/insert-$kind.sql"
  # Binary COPY: the bytes as they are, one query per image, as a server fetching one image does.
  awk -v k="$kind" '$1 == k {
      printf "COPY (SELECT data FROM blobs WHERE id = '\''%s'\'' ORDER BY chunk) TO STDOUT (FORMAT binary);\n", $2
    }' "$work/src/manifest" >"$work/select-$kind.sql"
done
chmod 0644 "$work"/*.sql

record() {  # record RUN PATH KIND FILES BYTES WRITE_S READ_S EXTRA_JSON
  printf '{"run": %s, "path": "%s", "kind": "%s", "files": %s, "bytes": %s, "write_s": %s, "read_s": %s, %s}\n' \
    "$@" >>"$out/runs.jsonl"
}

for ((run = 1; run <= runs; run++)); do
  echo "run $run/$runs: load $(load), compilers $(compilers)" >&2
  # --- (a) shared directory: exactly the store's sequence per image ------------------------
  store="$work/store-$run"
  warm_sources
  load_before=$(load)
  python3 - "$work/src" "$store" "$cold" >"$work/files.json" <<'PY'
import json, os, subprocess, sys, time
src, store, cold = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
entries = [line.split() for line in open(os.path.join(src, "manifest"))]
result = {}
for kind in ("big", "small"):
    names = [(name, int(size)) for k, name, size in entries if k == kind]
    start = time.perf_counter()
    for name, _ in names:
        with open(os.path.join(src, name), "rb") as f:
            data = f.read()
        folder = os.path.join(store, "blobs", name[:2])
        os.makedirs(folder, exist_ok=True)
        final = os.path.join(folder, name)
        staged = final + "." + os.urandom(8).hex() + ".tmp"
        fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
        os.close(fd)
        os.rename(staged, final)
    write_s = time.perf_counter() - start
    result[kind] = {"files": len(names), "bytes": sum(s for _, s in names), "write_s": write_s}
os.sync()
if cold:
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")
for kind in ("big", "small"):
    names = [(name, int(size)) for k, name, size in entries if k == kind]
    start = time.perf_counter()
    got = 0
    for name, _ in names:
        with open(os.path.join(store, "blobs", name[:2], name), "rb") as f:
            got += len(f.read())
    result[kind]["read_s"] = time.perf_counter() - start
    if got != result[kind]["bytes"]:
        sys.exit(f"read {got} bytes back, wrote {result[kind]['bytes']}")
du = subprocess.run(["du", "-sB1", store], capture_output=True, text=True, check=True)
result["disk_bytes"] = int(du.stdout.split()[0])
print(json.dumps(result))
PY
  for kind in big small; do
    read -r f_files f_bytes f_write_s f_read_s f_disk < <(python3 -c '
import json, sys
r = json.load(open(sys.argv[1])); k = r[sys.argv[2]]
print(k["files"], k["bytes"], k["write_s"], k["read_s"], r["disk_bytes"])' "$work/files.json" "$kind")
    record "$run" files "$kind" "$f_files" "$f_bytes" "$f_write_s" "$f_read_s" \
      "\"disk_bytes_all\": $f_disk, \"load\": $load_before, \"cold\": $cold"
  done
  rm -rf "$store"

  # --- (b) PostgreSQL bytea ---------------------------------------------------------------
  pg_psql "SET client_min_messages = warning; DROP TABLE IF EXISTS blobs"
  pg_psql "CREATE TABLE blobs (id text, chunk int, data bytea NOT NULL, PRIMARY KEY (id, chunk))"
  pg_psql "CHECKPOINT"
  warm_sources
  load_before=$(load)
  declare -A write_s=() read_s=() wal=() files=() bytes=()
  for kind in big small; do
    files[$kind]=$(awk -v k="$kind" '$1 == k' "$work/src/manifest" | wc -l)
    bytes[$kind]=$(awk -v k="$kind" '$1 == k { s += $3 } END { print s + 0 }' "$work/src/manifest")
    lsn=$(pg_psql "SELECT pg_current_wal_lsn()")
    t0=$(now)
    pg_file "$work/insert-$kind.sql"
    write_s[$kind]=$(elapsed "$t0")
    wal[$kind]=$(pg_psql "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '$lsn')")
  done
  # The heap pages are written again at the next checkpoint (the commits only flushed the WAL).
  t0=$(now)
  pg_psql "CHECKPOINT"
  checkpoint_s=$(elapsed "$t0")
  table_bytes=$(pg_psql "SELECT pg_total_relation_size('blobs')")
  pg_stop
  drop_caches
  pg_start "$work"
  # What each timed psql call costs besides the work: starting psql and connecting.
  echo "SELECT 1;" >"$work/empty.sql"
  chmod 0644 "$work/empty.sql"
  t0=$(now)
  pg_file "$work/empty.sql" >/dev/null
  connect_s=$(elapsed "$t0")
  for kind in big small; do
    t0=$(now)
    got=$(pg_file "$work/select-$kind.sql" | wc -c)
    read_s[$kind]=$(elapsed "$t0")
    # Binary COPY adds 19 bytes of header, 2 of trailer, and 2 + 4 per chunk row.
    ((got >= bytes[$kind] + files[$kind] * 27)) ||
      { echo "FAIL: read $got bytes back for $kind, stored ${bytes[$kind]}" >&2; exit 1; }
    record "$run" postgresql "$kind" "${files[$kind]}" "${bytes[$kind]}" "${write_s[$kind]}" \
      "${read_s[$kind]}" "\"wal_bytes\": ${wal[$kind]}, \"psql_connect_s\": $connect_s, \"checkpoint_after_s_all\": $checkpoint_s, \"table_bytes_all\": $table_bytes, \"load\": $load_before, \"cold\": $cold"
  done
done

{
  echo "date: $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "machine: $(nproc) cores, $(uname -r), disk of /tmp: $(df --output=source,fstype /tmp | tail -1)"
  echo "postgresql: $settings"
  echo "reads: $([[ $cold == 1 ]] && echo "cold (page cache dropped, server restarted)" || echo "WARM (could not drop the page cache)")"
  echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg), compilers running: $(compilers)"
  python3 - "$out/runs.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
def trio(values, fmt):
    v = sorted(values)
    return " / ".join(fmt.format(x) for x in (v[0], statistics.median(v), v[-1]))
print("per run, min / median / max over %d runs; MB = 10^6 bytes" % len({r["run"] for r in rows}))
print("| path | blobs | write MB/s | write images/s | read MB/s | read images/s |")
print("| --- | --- | --- | --- | --- | --- |")
for path in ("files", "postgresql"):
    for kind in ("big", "small"):
        rs = [r for r in rows if r["path"] == path and r["kind"] == kind]
        if not rs:
            continue
        label = "%d x %d KiB" % (rs[0]["files"], rs[0]["bytes"] // rs[0]["files"] // 1024)
        print("| %s | %s | %s | %s | %s | %s |" % (
            path, label,
            trio([r["bytes"] / r["write_s"] / 1e6 for r in rs], "{:.0f}"),
            trio([r["files"] / r["write_s"] for r in rs], "{:.0f}"),
            trio([r["bytes"] / r["read_s"] / 1e6 for r in rs], "{:.0f}"),
            trio([r["files"] / r["read_s"] for r in rs], "{:.0f}")))
stored = {}
for r in rows:
    stored.setdefault((r["path"], r["run"]), 0)
    stored[(r["path"], r["run"])] += r["bytes"]
files = [r for r in rows if r["path"] == "files" and r["kind"] == "big"]
pg = [r for r in rows if r["path"] == "postgresql"]
pg_big = [r for r in pg if r["kind"] == "big"]
print("files: disk usage / bytes stored: %s" % trio(
    [r["disk_bytes_all"] / stored[("files", r["run"])] for r in files], "{:.3f}"))
print("postgresql: table size / bytes stored: %s" % trio(
    [r["table_bytes_all"] / stored[("postgresql", r["run"])] for r in pg_big], "{:.3f}"))
for kind in ("big", "small"):
    print("postgresql %s: WAL bytes / bytes stored: %s" % (kind, trio(
        [r["wal_bytes"] / r["bytes"] for r in pg if r["kind"] == kind], "{:.3f}")))
print("postgresql: checkpoint after the writes (s): %s" % trio(
    [r["checkpoint_after_s_all"] for r in pg_big], "{:.2f}"))
print("postgresql: starting psql and connecting, included once in each timing (s): %s" % trio(
    [r["psql_connect_s"] for r in pg_big], "{:.3f}"))
print("load (1 min) at each run's start: files %s; postgresql %s" % (
    " ".join("%.2f" % r["load"] for r in files), " ".join("%.2f" % r["load"] for r in pg_big)))
PY
} | tee "$out/summary.txt"
