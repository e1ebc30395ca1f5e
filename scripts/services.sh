#!/usr/bin/env bash
# Make sure PostgreSQL and Redis are reachable for catalog-jobs and its tests.
#
# Targets come from DATABASE_URL and REDIS_URL (defaults below). For each
# service, in order, stopping at the first step that works:
#   a) already reachable                       -> use it
#   b) local server installed but stopped       -> start it
#   c) not installed, apt-get + root/sudo       -> install it, then start it
#   d) docker engine running                    -> docker compose up -d <service>
#   e) otherwise                                -> explain what is missing, exit 1
# Steps b) to d) are only taken when the target host is local.
set -euo pipefail

DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/catalog}"
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
WAIT_SECS="${SERVICES_WAIT_SECS:-30}"

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOG_FILE="$(mktemp "${TMPDIR:-/tmp}/services-sh.XXXXXX")"
trap 'rm -f "$LOG_FILE"' EXIT

have() { command -v "$1" >/dev/null 2>&1; }
warn() { printf '%s\n' "$*" >&2; }

# Run a command with a time limit when coreutils' timeout is available.
with_timeout() {
  local secs=$1
  shift
  if have timeout; then timeout "$secs" "$@"; else "$@"; fi
}

# Run a command, keeping its output in $LOG_FILE; show the output on failure.
run_logged() {
  "$@" >"$LOG_FILE" 2>&1 && return 0
  local rc=$?
  warn "command failed (exit $rc): $*"
  tail -n 20 "$LOG_FILE" >&2 || true
  return "$rc"
}

# parse_url URL DEFAULT_PORT -> sets URL_HOST and URL_PORT
parse_url() {
  local url=$1 default_port=$2 rest hostport
  rest=${url#*://}
  rest=${rest%%/*}
  rest=${rest%%\?*}
  hostport=${rest##*@}
  if [[ $hostport == \[* ]]; then # [ipv6]:port
    URL_HOST=${hostport#\[}
    URL_HOST=${URL_HOST%%\]*}
    URL_PORT=${hostport##*\]}
    URL_PORT=${URL_PORT#:}
  elif [[ $hostport == *:* ]]; then
    URL_HOST=${hostport%%:*}
    URL_PORT=${hostport##*:}
  else
    URL_HOST=$hostport
    URL_PORT=
  fi
  URL_HOST=${URL_HOST:-127.0.0.1}
  URL_PORT=${URL_PORT:-$default_port}
}

# host:port for messages, with [brackets] around IPv6 addresses.
hostport() {
  if [[ $1 == *:* ]]; then printf '[%s]:%s' "$1" "$2"; else printf '%s:%s' "$1" "$2"; fi
}

is_local_host() {
  case "$1" in
    127.0.0.1 | localhost | ::1) return 0 ;;
    *) return 1 ;;
  esac
}

# Plain TCP connect probe using bash's /dev/tcp.
tcp_probe() {
  # shellcheck disable=SC2016 # $1/$2 are expanded by the inner bash
  with_timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" >/dev/null 2>&1
}

pg_reachable() {
  if have pg_isready; then
    pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 3 >/dev/null 2>&1
  else
    tcp_probe "$PG_HOST" "$PG_PORT"
  fi
}

redis_reachable() {
  if have redis-cli; then
    local out
    out="$(with_timeout 5 redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>&1 </dev/null || true)"
    # NOAUTH/WRONGPASS: the server is up, it just wants the password from REDIS_URL.
    [[ $out == *PONG* || $out == *NOAUTH* || $out == *WRONGPASS* ]]
  else
    tcp_probe "$REDIS_HOST" "$REDIS_PORT"
  fi
}

# wait_until SECONDS CHECK_FUNCTION
wait_until() {
  local deadline=$((SECONDS + $1))
  while ((SECONDS < deadline)); do
    if "$2"; then return 0; fi
    sleep 1
  done
  "$2"
}

# Privilege prefix for starting/installing system services: empty when root,
# "sudo -n" when password-less sudo works; CAN_ROOT=0 otherwise.
SUDO=()
CAN_ROOT=0
if [[ $(id -u) -eq 0 ]]; then
  CAN_ROOT=1
elif have sudo && sudo -n true >/dev/null 2>&1; then
  SUDO=(sudo -n)
  CAN_ROOT=1
fi

APT_UPDATED=0
apt_install() {
  if ! have apt-get || [[ $CAN_ROOT -ne 1 ]]; then
    return 1
  fi
  if [[ $APT_UPDATED -eq 0 ]]; then
    run_logged "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q || return 1
    APT_UPDATED=1
  fi
  run_logged "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "$@"
}

# shellcheck disable=SC2317 # invoked indirectly through run_logged
docker_compose() {
  if docker compose version >/dev/null 2>&1; then
    docker compose -f "$REPO_ROOT/docker-compose.yml" "$@"
  elif have docker-compose; then
    docker-compose -f "$REPO_ROOT/docker-compose.yml" "$@"
  else
    return 1
  fi
}

docker_usable() {
  have docker && docker info >/dev/null 2>&1 &&
    { docker compose version >/dev/null 2>&1 || have docker-compose; }
}

# ---------------------------------------------------------------- PostgreSQL

parse_url "$DATABASE_URL" 5432
PG_HOST=$URL_HOST
PG_PORT=$URL_PORT

pg_installed() {
  have pg_ctlcluster && compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null
}

# For test machines: let TCP connections from 127.0.0.1 / ::1 in without a
# password (the tests connect as postgres with no password). Only called for
# a server this script starts or installs itself. Sets PG_HBA_CHANGED=1.
PG_HBA_CHANGED=0
pg_trust_localhost() {
  local hba="/etc/postgresql/$1/$2/pg_hba.conf"
  [[ -f $hba ]] || return 0
  local re='^([[:space:]]*host[a-z]*[[:space:]]+[^[:space:]]+[[:space:]]+[^[:space:]]+[[:space:]]+(127\.0\.0\.1/32|::1/128)[[:space:]]+)(scram-sha-256|md5)'
  if "${SUDO[@]}" grep -Eq "$re" "$hba"; then
    "${SUDO[@]}" sed -E -i.bak "s#${re}#\\1trust#" "$hba"
    PG_HBA_CHANGED=1
  fi
}

# Pick the local Debian cluster to use: the one configured for PG_PORT, else
# the newest "main". Sets PGC_VER, PGC_NAME, PGC_PORT, PGC_STATUS.
pg_find_cluster() {
  local line
  local -a f
  PGC_VER="" PGC_NAME="" PGC_PORT="" PGC_STATUS=""
  while read -r line; do
    read -r -a f <<<"$line"
    if [[ ${f[2]:-} == "$PG_PORT" ]]; then
      PGC_VER=${f[0]} PGC_NAME=${f[1]} PGC_PORT=${f[2]} PGC_STATUS=${f[3]:-}
      return 0
    fi
  done < <(pg_lsclusters -h 2>/dev/null || true)
  PGC_VER=$(find /etc/postgresql -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null | sort -V | tail -1)
  [[ -n $PGC_VER ]] || return 1
  PGC_NAME=main
  read -r -a f < <(pg_lsclusters -h "$PGC_VER" "$PGC_NAME" 2>/dev/null || true)
  PGC_PORT=${f[2]:-} PGC_STATUS=${f[3]:-}
}

# Start (creating if needed) a local Debian cluster. Returns 2 when no
# PostgreSQL server is installed, 1 when starting failed. Sets PG_ACTION.
pg_start_local() {
  pg_installed || return 2
  if [[ $CAN_ROOT -ne 1 ]]; then
    warn "PostgreSQL: installed but not running; starting it needs root or password-less sudo"
    return 1
  fi

  local created=""
  if [[ -z $(ls -A /etc/postgresql 2>/dev/null) ]]; then
    local ver
    ver=$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -1)
    run_logged "${SUDO[@]}" pg_createcluster --port "$PG_PORT" "$ver" main || return 1
    created="created and "
  fi

  pg_find_cluster || return 1
  if [[ -n $PGC_PORT && $PGC_PORT != "$PG_PORT" ]]; then
    warn "PostgreSQL: local cluster $PGC_VER/$PGC_NAME is configured for port $PGC_PORT, not $PG_PORT (set DATABASE_URL to use port $PGC_PORT)"
    return 1
  fi
  if [[ $PGC_STATUS == online* ]]; then
    # Up but not answering yet (e.g. still in recovery): just wait for it.
    PG_ACTION="cluster $PGC_VER/$PGC_NAME was already starting"
    return 0
  fi
  pg_trust_localhost "$PGC_VER" "$PGC_NAME"
  run_logged "${SUDO[@]}" pg_ctlcluster --skip-systemctl-redirect "$PGC_VER" "$PGC_NAME" start || return 1
  PG_ACTION="${created}started cluster $PGC_VER/$PGC_NAME"
  if [[ $PG_HBA_CHANGED -eq 1 ]]; then
    PG_ACTION+=", 127.0.0.1/::1 set to trust auth"
  fi
  return 0
}

# After apt-get installed (and possibly auto-started) the server: switch
# 127.0.0.1/::1 to trust auth and reload.
pg_trust_installed() {
  pg_find_cluster || return 0
  pg_trust_localhost "$PGC_VER" "$PGC_NAME"
  if [[ $PG_HBA_CHANGED -eq 1 ]]; then
    run_logged "${SUDO[@]}" pg_ctlcluster --skip-systemctl-redirect "$PGC_VER" "$PGC_NAME" reload || true
    PG_ACTION="127.0.0.1/::1 set to trust auth"
  fi
}

# Create the database named in DATABASE_URL when the server lacks it
# (local hosts only; needs psql).
pg_ensure_database() {
  have psql || return 0
  local path db base query maint err
  path=${DATABASE_URL#*://}
  [[ $path == */* ]] || return 0
  path=${path#*/}
  db=${path%%\?*}
  [[ -n $db ]] || return 0
  if err=$(PGCONNECT_TIMEOUT=5 psql -X -q -At -d "$DATABASE_URL" -c 'select 1' 2>&1 </dev/null); then
    return 0
  fi
  [[ $err == *"does not exist"* ]] || return 0
  base=${DATABASE_URL%%\?*}
  query=""
  [[ $DATABASE_URL == *\?* ]] && query="?${DATABASE_URL#*\?}"
  maint="${base%/*}/postgres${query}"
  if PGCONNECT_TIMEOUT=5 psql -X -q -d "$maint" -c "CREATE DATABASE \"${db//\"/\"\"}\"" </dev/null >"$LOG_FILE" 2>&1; then
    PG_NOTE=", created database $db"
  else
    warn "PostgreSQL: database $db does not exist and could not be created:"
    tail -n 5 "$LOG_FILE" >&2 || true
  fi
}

ensure_postgres() {
  local where
  where=$(hostport "$PG_HOST" "$PG_PORT")
  PG_NOTE=""
  if pg_reachable; then
    is_local_host "$PG_HOST" && pg_ensure_database
    echo "PostgreSQL: reachable at $where (already running$PG_NOTE)"
    return 0
  fi
  if ! is_local_host "$PG_HOST"; then
    warn "PostgreSQL: NOT reachable at $where (remote host from DATABASE_URL; start it there or set DATABASE_URL to a reachable server)"
    return 1
  fi

  local rc=0 how=""
  PG_ACTION=""
  pg_start_local || rc=$?
  if [[ $rc -eq 2 ]] && apt_install postgresql; then
    rc=0
    # The package normally creates and may start a cluster; start it if not.
    if wait_until 3 pg_reachable; then pg_trust_installed; else pg_start_local || rc=$?; fi
    how="installed with apt-get"
    [[ -n $PG_ACTION ]] && how+=", $PG_ACTION"
  elif [[ $rc -eq 0 ]]; then
    how=$PG_ACTION
  fi
  if [[ $rc -eq 0 ]] && wait_until "$WAIT_SECS" pg_reachable; then
    pg_ensure_database
    echo "PostgreSQL: reachable at $where ($how$PG_NOTE)"
    return 0
  fi

  if docker_usable; then
    export PG_HOST_PORT=$PG_PORT
    if run_logged docker_compose up -d postgres &&
      wait_until "$((WAIT_SECS * 2))" pg_reachable; then
      pg_ensure_database
      echo "PostgreSQL: reachable at $where (started with docker compose$PG_NOTE)"
      return 0
    fi
  fi

  warn "PostgreSQL: NOT reachable at $where and could not be started."
  warn "  Tried: local server (pg_ctlcluster), apt-get install postgresql (needs apt-get and root/password-less sudo), docker compose (needs a running Docker engine)."
  warn "  Fix: install/start PostgreSQL locally, start Docker, or set DATABASE_URL to a reachable server (user postgres, no password)."
  return 1
}

# --------------------------------------------------------------------- Redis

parse_url "$REDIS_URL" 6379
REDIS_HOST=$URL_HOST
REDIS_PORT=$URL_PORT

redis_start_local() {
  have redis-server || return 2
  local bind=127.0.0.1
  [[ $REDIS_HOST == ::1 ]] && bind=::1
  run_logged redis-server --daemonize yes --bind "$bind" --port "$REDIS_PORT" \
    --save "" --appendonly no --maxmemory-policy noeviction --dir "${TMPDIR:-/tmp}"
}

ensure_redis() {
  local where
  where=$(hostport "$REDIS_HOST" "$REDIS_PORT")
  if redis_reachable; then
    echo "Redis: reachable at $where (already running)"
    return 0
  fi
  if ! is_local_host "$REDIS_HOST"; then
    warn "Redis: NOT reachable at $where (remote host from REDIS_URL; start it there or set REDIS_URL to a reachable server)"
    return 1
  fi

  local rc=0 how="started local redis-server"
  redis_start_local || rc=$?
  if [[ $rc -eq 2 ]] && apt_install redis-server; then
    rc=0
    how="installed with apt-get"
    # The package may already have started a server on the default port.
    if ! wait_until 3 redis_reachable; then
      redis_start_local || rc=$?
      how+=", started redis-server"
    fi
  fi
  if [[ $rc -eq 0 ]] && wait_until "$WAIT_SECS" redis_reachable; then
    echo "Redis: reachable at $where ($how)"
    return 0
  fi

  if docker_usable; then
    export REDIS_HOST_PORT=$REDIS_PORT
    if run_logged docker_compose up -d redis &&
      wait_until "$((WAIT_SECS * 2))" redis_reachable; then
      echo "Redis: reachable at $where (started with docker compose)"
      return 0
    fi
  fi

  warn "Redis: NOT reachable at $where and could not be started."
  warn "  Tried: local redis-server, apt-get install redis-server (needs apt-get and root/password-less sudo), docker compose (needs a running Docker engine)."
  warn "  Fix: install/start Redis locally, start Docker, or set REDIS_URL to a reachable server."
  return 1
}

status=0
ensure_postgres || status=1
ensure_redis || status=1
exit "$status"
