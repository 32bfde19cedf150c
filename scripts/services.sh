#!/usr/bin/env bash
# Real Redis and PostgreSQL servers for the sink tests (SPEC §22), on 127.0.0.1, private ports, data
# under a temporary folder; plus Debian's Chromium for the HTTP API's EventSource test.
#
#   bash scripts/services.sh start    install what is missing (apt), start both, print the URLs
#   bash scripts/services.sh stop     stop both and delete their data
#   bash scripts/services.sh status   print the URLs when running (exit 1 otherwise)
#
# `start` prints only `export NAME=value` lines on stdout (progress goes to stderr), so
# `eval "$(bash scripts/services.sh start)"` sets PP_TEST_REDIS_URL and PP_TEST_POSTGRES_URL; the
# tests also read them from $PP_SERVICES_DIR/env.json when the variables are not set, so a plain
# `bash scripts/services.sh start` followed by `npm test` works on a dev machine. Starting twice
# reuses the running servers. Installing needs root or password-less sudo.
set -euo pipefail

DIR="${PP_SERVICES_DIR:-${TMPDIR:-/tmp}/peak-pressure-services-$(id -u)}"
PACKAGES=(redis-server postgresql chromium)

say() { printf 'services: %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo -n "$@"
  else
    say "need root to run: $*"
    say "install by hand: sudo apt-get install -y --no-install-recommends ${PACKAGES[*]}"
    exit 1
  fi
}

pg_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    if [ -x "$d/postgres" ]; then printf '%s\n' "$d"; fi
  done | sort -V | tail -n 1
}

have_all() { command -v redis-server >/dev/null && [ -n "$(pg_bin)" ] && command -v chromium >/dev/null; }

install_missing() {
  have_all && return 0
  say "installing ${PACKAGES[*]} from apt (non-interactive)"
  local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -y -q --no-install-recommends)
  if ! as_root "${apt[@]}" install "${PACKAGES[@]}" >&2; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -q update >&2
    as_root "${apt[@]}" install "${PACKAGES[@]}" >&2
  fi
  have_all || { say "installation finished but a binary is still missing (redis-server, postgres, chromium)"; exit 1; }
}

free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

# Run a command as the postgres user when we are root (postgres refuses to run as root).
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

redis_up() { [ -f "$DIR/redis.port" ] && redis-cli -h 127.0.0.1 -p "$(cat "$DIR/redis.port")" ping 2>/dev/null | grep -q PONG; }
pg_up() { [ -f "$DIR/pg.port" ] && "$(pg_bin)/pg_isready" -q -h 127.0.0.1 -p "$(cat "$DIR/pg.port")"; }

start_redis() {
  redis_up && return 0
  local port
  port="${PP_REDIS_PORT:-$(free_port)}"
  mkdir -p "$DIR/redis"
  # appendonly: what Redis acknowledged survives a kill (the sink's at-least-once needs that).
  redis-server --bind 127.0.0.1 --port "$port" --dir "$DIR/redis" --appendonly yes --appendfsync everysec --save '' \
    --daemonize yes --pidfile "$DIR/redis.pid" --logfile "$DIR/redis.log" >&2
  echo "$port" >"$DIR/redis.port"
  for _ in $(seq 1 100); do redis_up && { say "redis on 127.0.0.1:$port"; return 0; }; sleep 0.1; done
  say "redis did not start; see $DIR/redis.log"; exit 1
}

start_pg() {
  pg_up && return 0
  local bin port
  bin="$(pg_bin)"
  port="${PP_POSTGRES_PORT:-$(free_port)}"
  mkdir -p "$DIR/pg" "$DIR/pgrun"
  if [ "$(id -u)" -eq 0 ]; then chown postgres "$DIR/pg" "$DIR/pgrun"; fi
  if [ ! -f "$DIR/pg/PG_VERSION" ]; then
    as_pg "$bin/initdb" -D "$DIR/pg" -U postgres -A trust -E UTF8 --locale=C --no-sync >"$DIR/initdb.log" 2>&1 \
      || { say "initdb failed; see $DIR/initdb.log"; exit 1; }
  fi
  # fsync off: these servers are for tests (a killed server keeps what it wrote to the OS; a power cut would not).
  as_pg "$bin/pg_ctl" -D "$DIR/pg" -l "$DIR/pgrun/pg.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $DIR/pgrun -c fsync=off -c full_page_writes=off -c max_connections=200" start >&2
  echo "$port" >"$DIR/pg.port"
  pg_up || { say "postgres did not start; see $DIR/pgrun/pg.log"; exit 1; }
  say "postgres on 127.0.0.1:$port"
}

print_env() {
  local r p
  r="redis://127.0.0.1:$(cat "$DIR/redis.port")"
  p="postgres://postgres@127.0.0.1:$(cat "$DIR/pg.port")/postgres"
  printf '{"PP_TEST_REDIS_URL":"%s","PP_TEST_POSTGRES_URL":"%s"}\n' "$r" "$p" >"$DIR/env.json"
  printf 'export PP_SERVICES_DIR=%q\nexport PP_TEST_REDIS_URL=%q\nexport PP_TEST_POSTGRES_URL=%q\n' "$DIR" "$r" "$p"
}

stop_all() {
  if [ -f "$DIR/redis.pid" ]; then
    local pid
    pid="$(cat "$DIR/redis.pid")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  if [ -f "$DIR/pg/postmaster.pid" ] && [ -n "$(pg_bin)" ]; then
    as_pg "$(pg_bin)/pg_ctl" -D "$DIR/pg" -m fast -w stop >&2 || true
  fi
  rm -rf "$DIR"
  say "stopped; removed $DIR"
}

case "${1:-}" in
  start)
    install_missing
    mkdir -p "$DIR"
    # postgres (another user when we are root) must reach its data and socket folders.
    chmod 755 "$DIR"
    start_redis
    start_pg
    print_env
    ;;
  stop) stop_all ;;
  status)
    if redis_up && pg_up; then print_env; else say "not running (folder $DIR)"; exit 1; fi
    ;;
  *)
    echo "usage: bash scripts/services.sh start|stop|status" >&2
    exit 2
    ;;
esac
