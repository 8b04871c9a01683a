# Start and stop the real services the test suite uses, on loopback, each in its own temporary
# directory. Sourced by .ci/run (and usable by hand: `source .ci/services.sh; start_postgres`).
# Every server started here is stopped by its PID.

SERVICES_DIR="${SERVICES_DIR:-$(mktemp -d /tmp/townhall-services.XXXXXX)}"
mkdir -p "$SERVICES_DIR" && chmod 755 "$SERVICES_DIR"
PG_PORT="${PG_PORT:-54329}"
REDIS_PORT="${REDIS_PORT:-63799}"

apt_install() {
  # Install Debian packages that are missing; needs root (CI and these machines run as root).
  local missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
      || missing+=("$package")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

postgres_bin() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

start_postgres() {
  apt_install postgresql postgresql-contrib
  local bin data
  bin="$(postgres_bin)"
  data="$SERVICES_DIR/pgdata"
  mkdir -p "$data"
  # PostgreSQL refuses to run as root: the Debian package's `postgres` user owns the cluster.
  chown postgres:postgres "$data" "$SERVICES_DIR"
  runuser -u postgres -- "$bin/initdb" -D "$data" -U townhall --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  runuser -u postgres -- "$bin/pg_ctl" -D "$data" -l "$SERVICES_DIR/postgres.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $SERVICES_DIR -c fsync=off -c max_connections=200" start >/dev/null
  PG_PID="$(head -n 1 "$data/postmaster.pid")"
  export TOWNHALL_TEST_POSTGRES_URL="postgresql://townhall@127.0.0.1:$PG_PORT/postgres"
  echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT (pid $PG_PID)"
}

stop_postgres() {
  if [ -n "${PG_PID:-}" ] && kill -0 "$PG_PID" 2>/dev/null; then
    kill -INT "$PG_PID"  # fast shutdown
    for _ in $(seq 1 50); do kill -0 "$PG_PID" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$PG_PID" 2>/dev/null && kill -KILL "$PG_PID"
    echo "PostgreSQL stopped (pid $PG_PID)"
  fi
  PG_PID=""
}

start_redis() {
  apt_install redis-server
  # No persistence: a test server keeps nothing on disk. Its only file is its log.
  (cd "$SERVICES_DIR" && exec /usr/bin/redis-server --bind 127.0.0.1 --port "$REDIS_PORT" \
    --save "" --appendonly no --dir "$SERVICES_DIR" --logfile "$SERVICES_DIR/redis.log") &
  REDIS_PID=$!
  for _ in $(seq 1 50); do
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && break
    kill -0 "$REDIS_PID" 2>/dev/null || { cat "$SERVICES_DIR/redis.log"; return 1; }
    sleep 0.1
  done
  redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG \
    || { echo "Redis did not answer on 127.0.0.1:$REDIS_PORT"; cat "$SERVICES_DIR/redis.log"; return 1; }
  export TOWNHALL_TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
  echo "Redis $(/usr/bin/redis-server --version | awk '{print $3}' | cut -d= -f2) on 127.0.0.1:$REDIS_PORT (pid $REDIS_PID)"
}

stop_redis() {
  if [ -n "${REDIS_PID:-}" ] && kill -0 "$REDIS_PID" 2>/dev/null; then
    kill -TERM "$REDIS_PID"
    for _ in $(seq 1 50); do kill -0 "$REDIS_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$REDIS_PID" 2>/dev/null && kill -KILL "$REDIS_PID"
    echo "Redis stopped (pid $REDIS_PID)"
  fi
  REDIS_PID=""
}

install_chromium() {
  apt_install chromium
  export TOWNHALL_TEST_CHROMIUM=/usr/bin/chromium
}

stop_services() {
  stop_redis
  stop_postgres
  rm -rf "$SERVICES_DIR"
}
