#!/usr/bin/env bash
# Make sure the services Podium's tests and local runs need are up on this machine:
#   PostgreSQL on 127.0.0.1:5432 (with a database `test`), Redis on 127.0.0.1:6379, and a Docker
#   engine (dockerd started in the background when none answers).
# Idempotent and fast when everything already answers. Meant for a developer machine or CI as root.
#
# Usage: scripts/ensure-services.sh [--images] [--no-docker] [--no-postgres] [--no-redis]
#   --images       also build/reuse the local test base images (scripts/build-base-images.sh)
#   --no-docker    skip the Docker engine (same as PODIUM_SKIP_DOCKER=1)
#
# Environment:
#   PODIUM_DOCKERD_LOG        dockerd's log file (default /var/log/podium-dockerd.log)
#   PODIUM_DOCKERD_WAIT       seconds to wait for a started dockerd (default 60)
#   PODIUM_DOCKERD_ARGS       extra arguments for dockerd (e.g. "--storage-driver vfs")
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DOCKERD_LOG="${PODIUM_DOCKERD_LOG:-/var/log/podium-dockerd.log}"
DOCKERD_WAIT="${PODIUM_DOCKERD_WAIT:-60}"
WANT_DOCKER=1; WANT_PG=1; WANT_REDIS=1; WANT_IMAGES=0
[[ "${PODIUM_SKIP_DOCKER:-0}" == "1" ]] && WANT_DOCKER=0

for arg in "$@"; do
  case "$arg" in
    --images) WANT_IMAGES=1 ;;
    --no-docker) WANT_DOCKER=0 ;;
    --no-postgres) WANT_PG=0 ;;
    --no-redis) WANT_REDIS=0 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "[services] ERROR: unknown argument '$arg' (see --help)" >&2; exit 2 ;;
  esac
done

step() { echo "[services] $*"; }
die() { echo "[services] ERROR: $*" >&2; exit 1; }
need_root() {
  [[ "$(id -u)" == "0" ]] || die "$1 is down and starting it needs root: rerun as root (sudo $0)"
}

# Wait until "$@" succeeds, up to $1 seconds (polling every 0.5 s). Returns 1 on timeout.
wait_for() {
  local secs="$1"; shift
  local tries=$(( secs * 2 ))
  for (( i = 0; i < tries; i++ )); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  return 1
}

# ------------------------------------------------------------------------------------ PostgreSQL
pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q; }

psql_admin() {
  # Trust auth on 127.0.0.1 (as on this machine kind) or peer auth as the postgres OS user.
  if psql -h 127.0.0.1 -U postgres -d postgres -v ON_ERROR_STOP=1 -qtAc "SELECT 1" >/dev/null 2>&1; then
    psql -h 127.0.0.1 -U postgres -d postgres -v ON_ERROR_STOP=1 -qtAc "$1"
  elif command -v runuser >/dev/null && id postgres >/dev/null 2>&1; then
    runuser -u postgres -- psql -d postgres -v ON_ERROR_STOP=1 -qtAc "$1"
  else
    return 1
  fi
}

ensure_postgres() {
  command -v pg_isready >/dev/null || die "PostgreSQL client tools are missing: apt-get install -y postgresql"
  if pg_up; then
    step "postgres: 127.0.0.1:5432 answers"
  else
    need_root "PostgreSQL"
    [[ -d /etc/postgresql ]] && [[ -n "$(ls /etc/postgresql 2>/dev/null)" ]] \
      || die "no PostgreSQL cluster under /etc/postgresql: apt-get install -y postgresql"
    local ver
    ver="$(ls /etc/postgresql | sort -V | tail -n1)"
    step "postgres: not answering, starting cluster $ver/main"
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start \
      || die "pg_ctlcluster $ver main start failed: see /var/log/postgresql/postgresql-$ver-main.log"
    wait_for 30 pg_up || die "PostgreSQL started but 127.0.0.1:5432 does not answer after 30 s: see /var/log/postgresql/"
    step "postgres: started, 127.0.0.1:5432 answers"
  fi
  local has
  has="$(psql_admin "SELECT 1 FROM pg_database WHERE datname = 'test'")" \
    || die "cannot connect to PostgreSQL as user postgres (neither trust on 127.0.0.1 nor peer auth): check pg_hba.conf"
  if [[ "$has" == "1" ]]; then
    step "postgres: database 'test' exists"
  else
    psql_admin "CREATE DATABASE test" >/dev/null || die "could not create database 'test'"
    step "postgres: created database 'test'"
  fi
}

# ----------------------------------------------------------------------------------------- Redis
redis_up() { [[ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" == "PONG" ]]; }

ensure_redis() {
  command -v redis-cli >/dev/null || die "redis-cli is missing: apt-get install -y redis-server"
  if redis_up; then
    step "redis: 127.0.0.1:6379 answers"
    return
  fi
  command -v redis-server >/dev/null || die "redis-server is missing: apt-get install -y redis-server"
  step "redis: not answering, starting redis-server"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no --dir /tmp \
    >/dev/null || die "redis-server failed to start: run it in the foreground to see why"
  wait_for 10 redis_up || die "redis-server started but 127.0.0.1:6379 does not answer PING after 10 s"
  step "redis: started, 127.0.0.1:6379 answers"
}

# ---------------------------------------------------------------------------------------- Docker
docker_up() { docker info >/dev/null 2>&1; }

dockerd_pids() {
  # Only a process whose executable really is dockerd (no broad name matching of command lines).
  local p exe
  for p in /proc/[0-9]*; do
    exe="$(readlink "$p/exe" 2>/dev/null || true)"
    [[ "${exe##*/}" == "dockerd" ]] && echo "${p##*/}"
  done
  return 0
}

# Start dockerd with the given extra arguments; wait for it. Returns 0 when it answers,
# 1 when it exited (its log tells why), 2 when it is alive but still not answering.
start_dockerd() {
  step "docker: starting dockerd${*:+ $*} (log: $DOCKERD_LOG)"
  mkdir -p "$(dirname "$DOCKERD_LOG")"
  echo "=== $(date -u +%FT%TZ) podium ensure-services: dockerd $*" >>"$DOCKERD_LOG"
  # Own session, stdin closed: the daemon outlives this script and the CI step that ran it.
  nohup setsid dockerd "$@" </dev/null >>"$DOCKERD_LOG" 2>&1 &
  sleep 0.5
  for (( i = 0; i < DOCKERD_WAIT * 2; i++ )); do
    if docker_up; then return 0; fi
    # setsid may fork, so $! is not always dockerd's pid: look for the process itself.
    if [[ -z "$(dockerd_pids)" ]]; then sleep 0.5; [[ -n "$(dockerd_pids)" ]] || return 1; fi
    sleep 0.5
  done
  return 2
}

ensure_docker() {
  if ! command -v dockerd >/dev/null 2>&1; then
    need_root "Docker (not installed)"
    step "docker: dockerd missing, installing docker.io and iptables with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null \
      || die "apt-get update failed: check the apt sources and the network to the package mirror"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io iptables >/dev/null \
      || die "apt-get install docker.io iptables failed: run it by hand to see why"
  fi
  command -v docker >/dev/null 2>&1 || die "the docker CLI is missing: apt-get install -y docker.io"
  if docker_up; then
    step "docker: engine answers ($(docker info --format '{{.ServerVersion}} {{.Driver}} cgroup{{.CgroupVersion}}' 2>/dev/null))"
    return
  fi
  need_root "Docker engine"

  local running
  running="$(dockerd_pids)"
  if [[ -n "$running" ]]; then
    step "docker: dockerd already running (pid $running), waiting up to ${DOCKERD_WAIT}s for it to answer"
    wait_for "$DOCKERD_WAIT" docker_up \
      || die "dockerd (pid $running) runs but does not answer 'docker info': see $DOCKERD_LOG; kill it (kill $running) and rerun"
    step "docker: engine answers"
    return
  fi
  # A pid file left by a dockerd that died (machine restore, kill -9) makes the next one refuse to start.
  if [[ -f /var/run/docker.pid ]] && ! kill -0 "$(cat /var/run/docker.pid 2>/dev/null)" 2>/dev/null; then
    step "docker: removing stale /var/run/docker.pid"
    rm -f /var/run/docker.pid
  fi

  # shellcheck disable=SC2206
  local extra=( ${PODIUM_DOCKERD_ARGS:-} )
  # overlay2 needs the overlay filesystem; without it (some nested setups) fall back to vfs (slow, big).
  if ! grep -qw overlay /proc/filesystems && ! modprobe overlay 2>/dev/null \
     && [[ " ${extra[*]} " != *" --storage-driver"* ]]; then
    step "docker: kernel has no overlay filesystem, using storage driver vfs"
    extra+=(--storage-driver vfs)
  fi

  local rc=0
  start_dockerd "${extra[@]}" || rc=$?
  if [[ $rc == 1 ]] && tail -n 40 "$DOCKERD_LOG" | grep -qiE 'iptables|nf_tables|xtables'; then
    # nftables-backed iptables refused (old kernel, missing nf_tables): try the legacy backend.
    if command -v update-alternatives >/dev/null && [[ -x /usr/sbin/iptables-legacy ]]; then
      step "docker: dockerd failed on iptables; switching iptables to the legacy backend and retrying"
      update-alternatives --set iptables /usr/sbin/iptables-legacy >/dev/null 2>&1 || true
      update-alternatives --set ip6tables /usr/sbin/ip6tables-legacy >/dev/null 2>&1 || true
      rc=0; start_dockerd "${extra[@]}" || rc=$?
    fi
    if [[ $rc == 1 ]] && tail -n 40 "$DOCKERD_LOG" | grep -qiE 'iptables|nf_tables|xtables'; then
      step "docker: dockerd still fails on iptables; retrying with --iptables=false (bridge networks get no NAT; network_mode none is unaffected)"
      rc=0; start_dockerd "${extra[@]}" --iptables=false --ip6tables=false || rc=$?
    fi
  fi
  if [[ $rc == 1 ]] && tail -n 40 "$DOCKERD_LOG" | grep -qiE 'overlay|graphdriver|storage.driver'; then
    step "docker: dockerd failed on its storage driver; retrying with --storage-driver vfs"
    rc=0; start_dockerd "${extra[@]}" --storage-driver vfs || rc=$?
  fi
  case $rc in
    0) step "docker: engine answers ($(docker info --format '{{.ServerVersion}} {{.Driver}} cgroup{{.CgroupVersion}}' 2>/dev/null))" ;;
    1) die "dockerd exited at start: read the end of $DOCKERD_LOG (tail -n 50 $DOCKERD_LOG), fix, rerun" ;;
    *) die "dockerd started but did not answer 'docker info' within ${DOCKERD_WAIT}s: see $DOCKERD_LOG (or raise PODIUM_DOCKERD_WAIT)" ;;
  esac
}

[[ $WANT_PG == 1 ]] && ensure_postgres
[[ $WANT_REDIS == 1 ]] && ensure_redis
if [[ $WANT_DOCKER == 1 ]]; then
  ensure_docker
  if [[ $WANT_IMAGES == 1 ]]; then
    "$HERE/build-base-images.sh"
  fi
fi
step "all requested services are up"
