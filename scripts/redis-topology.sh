#!/usr/bin/env bash
# Start or stop a local Redis Cluster or Sentinel setup on loopback, to try
# the example on it:
#
#   scripts/redis-topology.sh cluster up     # 3 masters + 3 replicas
#   scripts/redis-topology.sh sentinel up    # 1 master + 1 replica + 3 Sentinels (quorum 2)
#   scripts/redis-topology.sh cluster down   # stop what "cluster up" started
#
# "up" prints the REDIS_MODE and REDIS_URL to run the example with, and the
# command that stops it. Every server listens on 127.0.0.1 only, saves
# nothing (no RDB, no AOF) and keeps its pid, log and generated config in a
# state directory under the temp dir, which "up" prints and "down" removes.
# "down" stops only the processes whose pid files are in that directory, so
# setups on other ports (with other state directories) are left alone: give
# "down" the REDIS_TOPOLOGY_PORT (or REDIS_TOPOLOGY_DIR) that "up" had.
#
# Environment:
#   REDIS_TOPOLOGY_PORT  first of the consecutive ports used (cluster: six
#                        nodes, each with its cluster bus on port + 10000;
#                        sentinel: the master, the replica, then the three
#                        Sentinels); default 7101 for cluster (7101-7106 and
#                        17101-17106), 6391 for sentinel (6391-6395)
#   REDIS_TOPOLOGY_DIR   the state directory (default: one per mode, user
#                        and first port under ${TMPDIR:-/tmp}, such as
#                        sessionshield-redis-cluster-1000-7101, so that
#                        "down" with the same port finds it)
set -euo pipefail

usage() { echo "usage: $0 cluster|sentinel up|down" >&2; exit 2; }
[ $# -eq 2 ] || usage
mode=$1 action=$2
case $mode in cluster|sentinel) ;; *) usage ;; esac
case $action in up|down) ;; *) usage ;; esac
for bin in redis-server redis-cli; do
  command -v "$bin" >/dev/null || { echo "$bin is not installed (Debian/Ubuntu: apt-get install redis-server redis-tools)" >&2; exit 1; }
done

if [ "$mode" = cluster ]; then base=${REDIS_TOPOLOGY_PORT:-7101}; else base=${REDIS_TOPOLOGY_PORT:-6391}; fi
case $base in ''|*[!0-9]*) echo "REDIS_TOPOLOGY_PORT must be a port number, got \"$base\"" >&2; exit 2 ;; esac
state=${REDIS_TOPOLOGY_DIR:-${TMPDIR:-/tmp}/sessionshield-redis-$mode-$(id -u)-$base}

# again: the environment to give this script for "down", as "up" had it.
again() {
  local env=""
  [ -n "${REDIS_TOPOLOGY_PORT:-}" ] && env+="REDIS_TOPOLOGY_PORT=$base "
  [ -n "${REDIS_TOPOLOGY_DIR:-}" ] && env+="REDIS_TOPOLOGY_DIR='$state' "
  echo "${env}$0 $mode down"
}

# down: stop every redis-server whose pid file is in the state directory.
down() {
  [ -d "$state" ] || { echo "nothing to stop: $state does not exist"; return 0; }
  local pids=() pid
  for f in "$state"/*.pid; do
    [ -e "$f" ] || continue
    pid=$(cat "$f")
    # Only a redis-server we started (the pid may have been reused).
    case "$(ps -p "$pid" -o comm= 2>/dev/null || true)" in
      *redis-server*) kill "$pid" && pids+=("$pid") ;;
    esac
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  done
  rm -rf "$state"
  echo "stopped ${#pids[@]} server(s), removed $state"
}

# answers PORT: whether a Redis answers PING on 127.0.0.1:PORT.
answers() { redis-cli -h 127.0.0.1 -p "$1" ping >/dev/null 2>&1; }

# wait_for WHAT SECONDS COMMAND...: run COMMAND every 0.1 s until it succeeds.
wait_for() {
  local what=$1 secs=$2; shift 2
  for _ in $(seq 1 $((secs * 10))); do "$@" && return 0; sleep 0.1; done
  echo "timed out waiting for $what; the last log lines:" >&2
  tail -n 5 "$state"/*.log >&2 || true
  return 1
}

# server PORT [ARGS...]: start a redis-server on 127.0.0.1:PORT, nothing on
# disk but its files in the state directory.
server() {
  local port=$1; shift
  mkdir -p "$state/$port"
  # repl-diskless-sync-delay 0: a replica gets its first copy at once, not
  # after the default 5 s (an unsynced replica cannot take over).
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --repl-diskless-sync-delay 0 \
    --dir "$state/$port" --daemonize yes --pidfile "$state/$port.pid" --logfile "$state/$port.log" "$@"
  wait_for "redis-server on port $port" 10 answers "$port"
}

# cluster_ok PORTS...: every node says cluster_state:ok and every replica
# has synced with its master.
cluster_ok() {
  local p
  for p in "$@"; do
    redis-cli -h 127.0.0.1 -p "$p" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || return 1
    if redis-cli -h 127.0.0.1 -p "$p" role 2>/dev/null | head -1 | grep -q '^slave'; then
      replica_ok "$p" || return 1
    fi
  done
}

sentinel_ok() {
  redis-cli -h 127.0.0.1 -p "$1" sentinel ckquorum mymaster 2>/dev/null | grep -q '^OK 3 usable'
}

replica_ok() {
  redis-cli -h 127.0.0.1 -p "$1" info replication 2>/dev/null | grep -q '^master_link_status:up'
}

if [ "$action" = down ]; then
  down
  exit 0
fi

if [ -e "$state" ]; then
  echo "$state exists: run \"$(again)\" first" >&2
  exit 1
fi
if [ "$mode" = cluster ]; then
  ports=($(seq "$base" $((base + 5))))
else
  ports=($(seq "$base" $((base + 4))))
fi
# A Cluster node also listens on its port + 10000 (the cluster bus).
check=("${ports[@]}")
if [ "$mode" = cluster ]; then
  for p in "${ports[@]}"; do check+=($((p + 10000))); done
fi
for p in "${check[@]}"; do
  if [ "$p" -gt 65535 ] || (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    echo "port $p is in use or out of range: set REDIS_TOPOLOGY_PORT to another first port" >&2
    exit 1
  fi
done
mkdir -p "$state"
trap 'echo "failed; stopping what was started" >&2; down >&2' ERR

if [ "$mode" = cluster ]; then
  for p in "${ports[@]}"; do
    server "$p" --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 2000
  done
  addrs=()
  for p in "${ports[@]}"; do addrs+=("127.0.0.1:$p"); done
  redis-cli --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes >"$state/create.log" 2>&1
  wait_for "cluster_state:ok on every node and synced replicas" 30 cluster_ok "${ports[@]}"
  trap - ERR
  echo "Redis Cluster: 3 masters + 3 replicas on 127.0.0.1:${ports[0]}-${ports[5]} (cluster-node-timeout 2000 ms)"
  echo "state directory: $state"
  echo "stop it with: $(again)"
  echo
  echo "REDIS_MODE=cluster REDIS_URL='redis://127.0.0.1:${ports[0]}?addr=127.0.0.1:${ports[1]}&addr=127.0.0.1:${ports[2]}' go run ./example"
else
  master=${ports[0]} replica=${ports[1]}
  server "$master"
  server "$replica" --replicaof 127.0.0.1 "$master"
  wait_for "the replica to sync" 20 replica_ok "$replica"
  for p in "${ports[@]:2}"; do
    mkdir -p "$state/$p"
    cat >"$state/$p/sentinel.conf" <<EOF
port $p
bind 127.0.0.1
dir $state/$p
daemonize yes
pidfile $state/$p.pid
logfile $state/$p.log
sentinel monitor mymaster 127.0.0.1 $master 2
sentinel down-after-milliseconds mymaster 5000
sentinel failover-timeout mymaster 10000
EOF
    redis-server "$state/$p/sentinel.conf" --sentinel
    wait_for "the Sentinel on port $p" 10 answers "$p"
  done
  for p in "${ports[@]:2}"; do
    wait_for "Sentinel $p to see the other two" 30 sentinel_ok "$p"
  done
  trap - ERR
  echo "Redis Sentinel: master 127.0.0.1:$master, replica 127.0.0.1:$replica, Sentinels on ${ports[2]}, ${ports[3]}, ${ports[4]} (quorum 2, down-after 5000 ms)"
  echo "state directory: $state"
  echo "stop it with: $(again)"
  echo
  echo "REDIS_MODE=sentinel REDIS_URL='redis://127.0.0.1:${ports[2]}?master_name=mymaster&addr=127.0.0.1:${ports[3]}&addr=127.0.0.1:${ports[4]}' go run ./example"
fi
