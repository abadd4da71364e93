#!/usr/bin/env bash
# Single-node Apache Kafka (KRaft, combined broker+controller) on 127.0.0.1, without Docker.
#
#   deploy/local/kafka.sh fetch     download the Kafka jars with Maven (cached)
#   deploy/local/kafka.sh start     fetch if needed, format storage once, start, wait until ready
#   deploy/local/kafka.sh stop      graceful stop (SIGTERM, SIGKILL after KAFKA_STOP_TIMEOUT s)
#   deploy/local/kafka.sh status    exit 0 when running and answering, 1 otherwise
#   deploy/local/kafka.sh restart   stop + start
#   deploy/local/kafka.sh reset     stop and delete all data (topics, offsets)
#
# Environment: KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (9093), KAFKA_HEAP (512m),
#              WARDEN_LOCAL_DIR (<repo>/.local), KAFKA_READY_TIMEOUT (60), KAFKA_STOP_TIMEOUT (30),
#              JAVA / JAVA_HOME.
# Files: <WARDEN_LOCAL_DIR>/kafka/{lib,data,logs,server.properties,kafka.pid}
set -euo pipefail

# shellcheck source=deploy/local/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=deploy/local/kafka-lib.sh
. "$WARDEN_DEPLOY/kafka-lib.sh"

KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_HEAP="${KAFKA_HEAP:-512m}"
if [ "$KAFKA_HEAP" = "512m" ]; then KAFKA_HEAP_MIN="${KAFKA_HEAP_MIN:-256m}"; else KAFKA_HEAP_MIN="${KAFKA_HEAP_MIN:-$KAFKA_HEAP}"; fi
NODE_DIR="$WARDEN_LOCAL_DIR/kafka"

# The port the running (or last configured) broker listens on.
configured_port() {
    sed -n 's/^listeners=PLAINTEXT:\/\/127\.0\.0\.1:\([0-9]*\),.*/\1/p' "$NODE_DIR/server.properties" 2>/dev/null || true
}

cmd_fetch() {
    kafka_fetch
}

cmd_start() {
    local start pid port
    start="$(date +%s%N)"
    kafka_fetch
    kafka_java_init
    if pid="$(kafka_node_pid "$NODE_DIR")"; then
        port="$(configured_port)"
        if port_open 127.0.0.1 "$port"; then
            log "Kafka is already running (pid $pid) on 127.0.0.1:$port; nothing to do"
            [ "$port" = "$KAFKA_PORT" ] || warn "it listens on $port, not KAFKA_PORT=$KAFKA_PORT; run '$0 restart' to apply"
            return 0
        fi
        log "Kafka process $pid exists but 127.0.0.1:$port does not answer yet; waiting"
        kafka_wait_ready "127.0.0.1:$port" "$KAFKA_READY_TIMEOUT" "$NODE_DIR"
        log "Kafka is ready on 127.0.0.1:$port (pid $pid)"
        return 0
    fi
    for port in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
        if port_open 127.0.0.1 "$port"; then
            die "127.0.0.1:$port is already used by another process (not this repo's Kafka). Stop it (see: ss -ltnp | grep :$port) or choose other ports with KAFKA_PORT / KAFKA_CONTROLLER_PORT."
        fi
    done

    mkdir -p "$NODE_DIR/data" "$NODE_DIR/logs"
    kafka_render_config "$NODE_DIR/server.properties" 1 "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT" \
        "controller.quorum.bootstrap.servers=127.0.0.1:$KAFKA_CONTROLLER_PORT" \
        "$NODE_DIR/data" 1 1
    local cluster_id
    cluster_id="$(kafka_cluster_id "$NODE_DIR/cluster.id")"
    kafka_format "$NODE_DIR" "$NODE_DIR/server.properties" "$cluster_id" --standalone

    log "starting Kafka on 127.0.0.1:$KAFKA_PORT (controller 127.0.0.1:$KAFKA_CONTROLLER_PORT, heap $KAFKA_HEAP); logs in $NODE_DIR/logs"
    kafka_node_launch "$NODE_DIR" "$KAFKA_HEAP" "$KAFKA_HEAP_MIN"
    kafka_wait_ready "127.0.0.1:$KAFKA_PORT" "$KAFKA_READY_TIMEOUT" "$NODE_DIR"
    log "Kafka is ready on 127.0.0.1:$KAFKA_PORT (pid $(cat "$NODE_DIR/kafka.pid"), started in $(elapsed_since "$start")s)"
}

cmd_stop() {
    local pid
    if ! pid="$(kafka_node_pid "$NODE_DIR")"; then
        log "Kafka is not running; nothing to stop"
        return 0
    fi
    log "stopping Kafka (pid $pid) ..."
    kafka_node_signal_stop "$NODE_DIR"
    kafka_node_wait_stopped "$NODE_DIR" "$KAFKA_STOP_TIMEOUT"
    log "Kafka stopped"
}

cmd_status() {
    local pid port
    port="$(configured_port)"
    if pid="$(kafka_node_pid "$NODE_DIR")"; then
        if port_open 127.0.0.1 "$port"; then
            log "running: pid $pid, bootstrap 127.0.0.1:$port, data $NODE_DIR/data"
            return 0
        fi
        log "not running properly: pid $pid exists but 127.0.0.1:$port does not answer (starting, or stuck; see $NODE_DIR/logs)"
        return 1
    fi
    log "not running"
    return 1
}

cmd_reset() {
    cmd_stop
    log "deleting Kafka data in $NODE_DIR (data, cluster id, logs; the jars stay)"
    rm -rf "$NODE_DIR/data" "$NODE_DIR/cluster.id" "$NODE_DIR/logs" "$NODE_DIR/server.properties"
}

case "${1:-}" in
    fetch|start|stop|restart|reset) take_lock kafka ;;
esac
case "${1:-}" in
    fetch) cmd_fetch ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    restart) cmd_stop; cmd_start ;;
    reset) cmd_reset ;;
    *)
        echo "usage: $0 {fetch|start|stop|status|restart|reset}" >&2
        exit 2
        ;;
esac
