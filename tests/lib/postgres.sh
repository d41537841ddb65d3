# shellcheck shell=bash
# Sourced by the script tests that need a real PostgreSQL server: a throwaway cluster from
# Debian's packages, reachable only through a Unix socket in its own folder (no TCP), fsync off.
# As root (CI), initdb and the server run as the `postgres` system user, who owns the folder:
# both refuse to run as root. Mirrors tests/unit/postgres_server.cpp.
#
# pg_start WORK_DIR: on the first call makes a cluster under a new /tmp/dd-pg-XXXXXX (a socket
#   path must stay under about 100 bytes, so not under WORK_DIR) and creates the database
#   "diffusiond"; on later calls starts the same cluster again with its data. Sets pg_dir (the
#   folder), pg_url (postgresql:// URL of "diffusiond") and pg_bin. Missing server programs are a
#   failure that says to run scripts/setup: a skip would hide a CI machine without them.
# pg_stop: stops the server (fast mode: clients are disconnected), keeping the data.
# pg_restart: pg_stop, then pg_start with the same cluster.
# pg_remove: stops it if running and removes the folder; safe to call from an EXIT trap.
# pg_psql SQL: runs one SQL statement against "diffusiond" as the superuser, prints the rows.

pg_dir=""
pg_url=""
pg_bin=""
pg_work=""

# The newest /usr/lib/postgresql/<version>/bin that has initdb, pg_ctl and postgres.
pg_find_bin() {
  local dir best="" best_version=-1 version
  for dir in /usr/lib/postgresql/*/bin; do
    [[ -x "$dir/initdb" && -x "$dir/pg_ctl" && -x "$dir/postgres" ]] || continue
    version=$(basename "$(dirname "$dir")")
    version=${version%%.*}
    [[ "$version" =~ ^[0-9]+$ ]] || continue
    if ((version > best_version)); then
      best_version=$version
      best=$dir
    fi
  done
  echo "$best"
}

# pg_as_server_user COMMAND...: runs it as `postgres` when we are root, else as ourselves, with
# only PATH and the C locale in its environment: PG* variables (PGDATA, PGPORT...) would override
# the arguments, and a locale missing here makes initdb fail.
pg_as_server_user() {
  local -a clean_env=(env -i "PATH=$PATH" LC_ALL=C)
  if [[ $(id -u) -eq 0 ]]; then
    (cd "$pg_dir" && runuser -u postgres -- "${clean_env[@]}" "$@")
  else
    (cd "$pg_dir" && "${clean_env[@]}" "$@")
  fi
}

pg_start() {
  pg_work="$1"
  if [[ -z "$pg_bin" ]]; then
    pg_bin=$(pg_find_bin)
    if [[ -z "$pg_bin" ]]; then
      echo "FAIL: PostgreSQL's server programs (initdb, pg_ctl, postgres) are not installed" \
        "under /usr/lib/postgresql/*/bin: run scripts/setup" >&2
      return 1
    fi
    if [[ $(id -u) -eq 0 ]] && ! getent passwd postgres >/dev/null; then
      echo "FAIL: running as root and there is no \`postgres\` system user to run the server" \
        "as: run scripts/setup (Debian's postgresql package creates it)" >&2
      return 1
    fi
  fi
  if [[ -z "$pg_dir" ]]; then
    pg_dir=$(mktemp -d /tmp/dd-pg-XXXXXX)
    if [[ $(id -u) -eq 0 ]]; then
      chown postgres: "$pg_dir"
      chmod 0711 "$pg_dir"
    fi
    if ! pg_as_server_user "$pg_bin/initdb" --pgdata="$pg_dir/data" --username=postgres \
      --auth=trust --encoding=UTF8 --locale=C --no-sync >>"$pg_work/postgres-commands.log" 2>&1; then
      echo "FAIL: initdb failed; its log:" >&2
      cat "$pg_work/postgres-commands.log" >&2
      return 1
    fi
    # Only this folder's socket: no TCP listener, and only its owner (and root) can reach it.
    pg_as_server_user tee -a "$pg_dir/data/postgresql.conf" >/dev/null <<CONF

listen_addresses = ''
unix_socket_directories = '$pg_dir'
unix_socket_permissions = 0700
port = 5432
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 16MB
max_connections = 100
CONF
    # shellcheck disable=SC2034  # read by the scripts that source this file
    pg_url="postgresql:///diffusiond?host=$pg_dir&port=5432&user=postgres"
    pg_server_start || return 1
    if ! pg_as_server_user "$pg_bin/createdb" --host="$pg_dir" --port=5432 --username=postgres \
      diffusiond >>"$pg_work/postgres-commands.log" 2>&1; then
      echo "FAIL: createdb failed; its log:" >&2
      cat "$pg_work/postgres-commands.log" >&2
      return 1
    fi
  else
    pg_server_start || return 1
  fi
}

pg_server_start() {
  if ! pg_as_server_user "$pg_bin/pg_ctl" --pgdata="$pg_dir/data" --log="$pg_dir/server.log" \
    --wait --timeout=120 start >>"$pg_work/postgres-commands.log" 2>&1; then
    echo "FAIL: pg_ctl start failed; its logs:" >&2
    cat "$pg_work/postgres-commands.log" "$pg_dir/server.log" >&2
    return 1
  fi
}

pg_stop() {
  [[ -n "$pg_dir" && -f "$pg_dir/data/postmaster.pid" ]] || return 0
  if ! pg_as_server_user "$pg_bin/pg_ctl" --pgdata="$pg_dir/data" --mode=fast --wait \
    --timeout=60 stop >>"$pg_work/postgres-commands.log" 2>&1; then
    echo "FAIL: pg_ctl stop failed; its log:" >&2
    tail -n 20 "$pg_work/postgres-commands.log" >&2
    return 1
  fi
}

pg_restart() {
  pg_stop && pg_start "$pg_work"
}

pg_psql() {
  pg_as_server_user "$pg_bin/psql" --host="$pg_dir" --port=5432 --username=postgres \
    --dbname=diffusiond --no-psqlrc --tuples-only --no-align --quiet \
    --set=ON_ERROR_STOP=1 --command="$1"
}

pg_remove() {
  [[ -n "$pg_dir" ]] || return 0
  if [[ -f "$pg_dir/data/postmaster.pid" ]]; then
    if ! pg_as_server_user "$pg_bin/pg_ctl" --pgdata="$pg_dir/data" --mode=immediate --wait \
      --timeout=60 stop >/dev/null 2>&1; then
      # pg_ctl could not stop it: end the postmaster by its pid file, so no server outlives us.
      local pid
      pid=$(head -n 1 "$pg_dir/data/postmaster.pid" 2>/dev/null || true)
      if [[ "$pid" =~ ^[0-9]+$ ]]; then kill -9 "$pid" 2>/dev/null || true; fi
    fi
  fi
  rm -rf "$pg_dir"
  pg_dir=""
}
