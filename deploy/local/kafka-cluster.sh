#!/usr/bin/env bash
# Three-node Apache Kafka cluster (KRaft, every node broker+controller) on 127.0.0.1, for
# failure tests. Independent of the single node of kafka.sh (other ports, other data dir).
#
#   deploy/local/kafka-cluster.sh start [N]   start all nodes (or only node N = 1..3), wait until ready
#   deploy/local/kafka-cluster.sh stop [N]    graceful stop of all nodes (or only node N)
#   deploy/local/kafka-cluster.sh kill N      SIGKILL node N (crash simulation)
#   deploy/local/kafka-cluster.sh status      exit 0 when all three nodes run and answer
#   deploy/local/kafka-cluster.sh bootstrap   print the bootstrap servers
#   deploy/local/kafka-cluster.sh reset       stop and delete all cluster data
#
# Node N (1..3): client port 1909(N+1), controller port 1919(N+1), i.e. 19092..19094 and 19192..19194.
# Defaults: default.replication.factor=3, min.insync.replicas=2. Static controller quorum
# (controller.quorum.voters); a killed node is fenced after 4 s. Heap per node: KAFKA_CLUSTER_HEAP (384m).
# Files: <WARDEN_LOCAL_DIR>/kafka-cluster/node{1,2,3}/{data,logs,server.properties,kafka.pid};
# jars are shared with kafka.sh (<WARDEN_LOCAL_DIR>/kafka/lib).
set -euo pipefail

# shellcheck source=deploy/local/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=deploy/local/kafka-lib.sh
. "$WARDEN_DEPLOY/kafka-lib.sh"

CLUSTER_DIR="$WARDEN_LOCAL_DIR/kafka-cluster"
KAFKA_CLUSTER_HEAP="${KAFKA_CLUSTER_HEAP:-384m}"
NODES=(1 2 3)
BOOTSTRAP="127.0.0.1:19092,127.0.0.1:19093,127.0.0.1:19094"
VOTERS="1@127.0.0.1:19192,2@127.0.0.1:19193,3@127.0.0.1:19194"

node_dir()   { printf '%s/node%s' "$CLUSTER_DIR" "$1"; }
node_port()  { printf '%s' $((19091 + $1)); }
node_cport() { printf '%s' $((19191 + $1)); }

# Nodes named on the command line, or all three.
selected_nodes() {
    if [ -n "${1:-}" ]; then
        case "$1" in 1|2|3) echo "$1" ;; *) die "node must be 1, 2 or 3 (got '$1')" ;; esac
    else
        echo "${NODES[@]}"
    fi
}

cmd_start() {
    local start n dir pid to_wait=() launched=0
    start="$(date +%s%N)"
    "$WARDEN_DEPLOY/kafka.sh" fetch >/dev/null
    kafka_require_lib
    kafka_java_init
    local cluster_id
    cluster_id="$(kafka_cluster_id "$CLUSTER_DIR/cluster.id")"
    for n in $(selected_nodes "${1:-}"); do
        dir="$(node_dir "$n")"
        if pid="$(kafka_node_pid "$dir")"; then
            log "node $n already running (pid $pid) on 127.0.0.1:$(node_port "$n")"
            continue
        fi
        local p
        for p in "$(node_port "$n")" "$(node_cport "$n")"; do
            port_open 127.0.0.1 "$p" && die "127.0.0.1:$p (node $n) is already used by another process; see: ss -ltnp | grep :$p"
        done
        mkdir -p "$dir/data" "$dir/logs"
        kafka_render_config "$dir/server.properties" "$n" "$(node_port "$n")" "$(node_cport "$n")" \
            "controller.quorum.voters=$VOTERS
# A killed node is fenced after 4 s (default 9 s), so failure tests need not wait long.
broker.session.timeout.ms=4000
broker.heartbeat.interval.ms=1000" "$dir/data" 3 2
        kafka_format "$dir" "$dir/server.properties" "$cluster_id"
        log "starting node $n on 127.0.0.1:$(node_port "$n") (controller 127.0.0.1:$(node_cport "$n"), heap $KAFKA_CLUSTER_HEAP)"
        kafka_node_launch "$dir" "$KAFKA_CLUSTER_HEAP" 192m
        launched=$((launched + 1))
    done
    for n in "${NODES[@]}"; do
        dir="$(node_dir "$n")"
        kafka_node_pid "$dir" >/dev/null && to_wait+=("$dir")
    done
    [ "${#to_wait[@]}" -gt 0 ] || die "no node is running"
    kafka_wait_ready "$BOOTSTRAP" "$KAFKA_READY_TIMEOUT" "${to_wait[@]}"
    if [ "$launched" -gt 0 ]; then
        log "cluster ready: bootstrap $BOOTSTRAP (${#to_wait[@]} of 3 nodes running, started in $(elapsed_since "$start")s)"
    else
        log "cluster already running: bootstrap $BOOTSTRAP; nothing to do"
    fi
}

cmd_stop() {
    local n dir any=0
    for n in $(selected_nodes "${1:-}"); do
        dir="$(node_dir "$n")"
        if kafka_node_pid "$dir" >/dev/null; then
            log "stopping node $n (pid $(kafka_node_pid "$dir"))"
            kafka_node_signal_stop "$dir"
            any=1
        fi
    done
    if [ "$any" -eq 0 ]; then
        log "no cluster node is running; nothing to stop"
        return 0
    fi
    # All nodes got SIGTERM at once; a node that loses the quorum while shutting down can hang,
    # so the wait is short before SIGKILL.
    for n in $(selected_nodes "${1:-}"); do
        kafka_node_wait_stopped "$(node_dir "$n")" "${KAFKA_CLUSTER_STOP_TIMEOUT:-20}"
    done
    log "stopped"
}

cmd_kill() {
    local n="${1:-}" dir pid
    [ -n "$n" ] || die "usage: $0 kill N"
    n="$(selected_nodes "$n")"
    dir="$(node_dir "$n")"
    if pid="$(kafka_node_pid "$dir")"; then
        kill -KILL "$pid"
        rm -f "$dir/kafka.pid"
        log "node $n (pid $pid) killed"
    else
        log "node $n is not running"
    fi
}

cmd_status() {
    local n dir pid up=0
    for n in "${NODES[@]}"; do
        dir="$(node_dir "$n")"
        if pid="$(kafka_node_pid "$dir")" && port_open 127.0.0.1 "$(node_port "$n")"; then
            log "node $n: running (pid $pid) on 127.0.0.1:$(node_port "$n")"
            up=$((up + 1))
        elif [ -n "${pid:-}" ]; then
            log "node $n: process $pid exists but 127.0.0.1:$(node_port "$n") does not answer"
        else
            log "node $n: not running"
        fi
        pid=""
    done
    if [ "$up" -eq 3 ]; then
        log "running: bootstrap $BOOTSTRAP"
        return 0
    fi
    log "not running ($up of 3 nodes up)"
    return 1
}

cmd_reset() {
    cmd_stop
    log "deleting $CLUSTER_DIR"
    rm -rf "$CLUSTER_DIR"
}

case "${1:-}" in
    start|stop|kill|reset) take_lock kafka-cluster ;;
esac
case "${1:-}" in
    start) cmd_start "${2:-}" ;;
    stop) cmd_stop "${2:-}" ;;
    kill) cmd_kill "${2:-}" ;;
    status) cmd_status ;;
    bootstrap) echo "$BOOTSTRAP" ;;
    reset) cmd_reset ;;
    *)
        echo "usage: $0 {start [N]|stop [N]|kill N|status|bootstrap|reset}" >&2
        exit 2
        ;;
esac
