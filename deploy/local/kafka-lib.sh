# shellcheck shell=bash
# Kafka helpers shared by kafka.sh (one node) and kafka-cluster.sh (three nodes).
# Source lib.sh first.

KAFKA_TEMPLATE_DIR="$WARDEN_DEPLOY/kafka"
KAFKA_POM="$KAFKA_TEMPLATE_DIR/pom.xml"
KAFKA_LOG4J="$KAFKA_TEMPLATE_DIR/log4j2.properties"
KAFKA_TOOLS_LOG4J="$KAFKA_TEMPLATE_DIR/tools-log4j2.properties"
# The jars are shared by the single node and the cluster.
KAFKA_LIB="$WARDEN_LOCAL_DIR/kafka/lib"
KAFKA_LIB_MARKER="$KAFKA_LIB/.warden-pom.sha256"
KAFKA_READY_TIMEOUT="${KAFKA_READY_TIMEOUT:-60}"
KAFKA_STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"

# ---------------------------------------------------------------- java / maven
# kafka_java_init : set KAFKA_JAVA to a Java >= 17 (installs openjdk-17 when root and none is found).
kafka_java_init() {
    [ -z "${KAFKA_JAVA:-}" ] || return 0
    local java="${JAVA:-}"
    if [ -z "$java" ]; then
        if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
            java="$JAVA_HOME/bin/java"
        else
            java="java"
        fi
    fi
    if ! command -v "$java" >/dev/null 2>&1; then
        apt_install openjdk-17-jre-headless
        java=java
    fi
    local major
    major="$("$java" -version 2>&1 | awk -F'"' '/version/ { print $2; exit }')"
    major="${major#1.}"
    major="${major%%.*}"
    major="${major%%[!0-9]*}"
    if [ -z "$major" ] || [ "$major" -lt 17 ]; then
        die "Kafka 4 needs Java 17 or newer; '$java' is version '${major:-unknown}'. Install openjdk-17-jre-headless or set JAVA_HOME."
    fi
    KAFKA_JAVA="$(command -v "$java")"
}

kafka_fetch() {
    local want have start
    want="$(sha256sum "$KAFKA_POM" | cut -d' ' -f1)"
    have="$(cat "$KAFKA_LIB_MARKER" 2>/dev/null || true)"
    if [ "$want" = "$have" ] && compgen -G "$KAFKA_LIB/kafka_2.13-*.jar" >/dev/null; then
        log "Kafka jars already in $KAFKA_LIB ($(find -L "$KAFKA_LIB" -name '*.jar' | wc -l) jars, pom unchanged); nothing to fetch"
        return 0
    fi
    if compgen -G "$KAFKA_LIB/kafka_2.13-*.jar" >/dev/null; then
        local d
        for d in "$WARDEN_LOCAL_DIR/kafka" "$WARDEN_LOCAL_DIR"/kafka-cluster/node*; do
            if kafka_node_pid "$d" >/dev/null 2>&1; then
                warn "deploy/local/kafka/pom.xml changed, but a broker still runs from $KAFKA_LIB ($d); keeping the old jars. Stop Kafka (kafka.sh stop, kafka-cluster.sh stop) and run kafka.sh fetch to switch."
                return 0
            fi
        done
    fi
    command -v mvn >/dev/null 2>&1 || apt_install maven
    kafka_java_init
    local version
    version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$KAFKA_POM")"
    log "fetching Kafka $version and its dependencies from Maven Central into $KAFKA_LIB ..."
    start="$(date +%s%N)"
    local tmp="$KAFKA_LIB.tmp.$$"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    # Maven's output is kept for the error case only (-q still prints colour resets).
    # Offline first (everything may already be in ~/.m2), then from Maven Central.
    if ! mvn -o -q -B -f "$KAFKA_POM" dependency:copy-dependencies \
            -DincludeScope=runtime -DoutputDirectory="$tmp" >"$tmp.mvn.log" 2>&1 \
        && ! mvn -q -B -f "$KAFKA_POM" dependency:copy-dependencies \
            -DincludeScope=runtime -DoutputDirectory="$tmp" >"$tmp.mvn.log" 2>&1; then
        cat "$tmp.mvn.log" >&2
        rm -rf "$tmp" "$tmp.mvn.log"
        die "mvn could not fetch the Kafka jars (output above; Maven Central must be reachable)"
    fi
    rm -f "$tmp.mvn.log"
    printf '%s\n' "$want" >"$tmp/.warden-pom.sha256"
    rm -rf "$KAFKA_LIB"
    mv "$tmp" "$KAFKA_LIB"
    log "fetched $(find -L "$KAFKA_LIB" -name '*.jar' | wc -l) jars ($(du -sh "$KAFKA_LIB" | cut -f1)) in $(elapsed_since "$start")s"
}

kafka_require_lib() {
    compgen -G "$KAFKA_LIB/kafka_2.13-*.jar" >/dev/null \
        || die "Kafka jars missing in $KAFKA_LIB; run: deploy/local/kafka.sh fetch"
}

# kafka_tool CLASS ARGS... : run one of Kafka's command-line classes quietly (log4j: WARN to stderr).
# kafka_tool_timeout SECONDS CLASS ARGS... : the same, killed after SECONDS.
kafka_tool_argv() {
    kafka_java_init
    KAFKA_TOOL_ARGV=("$KAFKA_JAVA" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1
        -Dlog4j2.configurationFile="$KAFKA_TOOLS_LOG4J" -cp "$KAFKA_LIB/*")
}
kafka_tool() {
    kafka_tool_argv
    "${KAFKA_TOOL_ARGV[@]}" "$@"
}
kafka_tool_timeout() {
    local secs="$1"
    shift
    kafka_tool_argv
    timeout "$secs" "${KAFKA_TOOL_ARGV[@]}" "$@"
}

# ---------------------------------------------------------------- config / storage
# kafka_render_config OUT NODE_ID PORT CONTROLLER_PORT QUORUM_LINES LOG_DIR RF MIN_ISR
# QUORUM_LINES replaces the @QUORUM@ line of the template (may hold several lines).
kafka_render_config() {
    local out="$1" node_id="$2" port="$3" cport="$4" quorum="$5" log_dir="$6" rf="$7" min_isr="$8"
    local tmp="$out.tmp.$$"
    quorum="${quorum//\\/\\\\}"   # awk -v interprets backslashes
    awk -v node_id="$node_id" -v port="$port" -v cport="$cport" -v quorum="$quorum" \
        -v log_dir="$log_dir" -v rf="$rf" -v min_isr="$min_isr" '
        {
            gsub(/@NODE_ID@/, node_id); gsub(/@PORT@/, port); gsub(/@CONTROLLER_PORT@/, cport)
            gsub(/@LOG_DIR@/, log_dir); gsub(/@RF@/, rf); gsub(/@MIN_ISR@/, min_isr)
            if ($0 == "@QUORUM@") { print quorum; next }
            print
        }' "$KAFKA_TEMPLATE_DIR/server.properties.template" >"$tmp"
    mv "$tmp" "$out"
}

# kafka_format NODE_DIR CONFIG CLUSTER_ID FORMAT_ARGS... : format the node's storage once
# (skipped when NODE_DIR/data/meta.properties exists).
kafka_format() {
    local node_dir="$1" config="$2" cluster_id="$3"
    shift 3
    local data="$node_dir/data"
    [ ! -f "$data/meta.properties" ] || return 0
    mkdir -p "$data"
    log "formatting KRaft storage in $data (cluster id $cluster_id)"
    kafka_tool kafka.tools.StorageTool format -t "$cluster_id" -c "$config" "$@" >/dev/null \
        || die "kafka.tools.StorageTool format failed for $config"
}

# kafka_cluster_id FILE : the cluster id stored in FILE, generated once.
kafka_cluster_id() {
    local file="$1" id
    if [ ! -s "$file" ]; then
        id="$(kafka_tool kafka.tools.StorageTool random-uuid | tail -n1 | tr -d '[:space:]')"
        [ -n "$id" ] || die "kafka.tools.StorageTool random-uuid printed nothing"
        mkdir -p "$(dirname "$file")"
        printf '%s\n' "$id" >"$file"
    fi
    tr -d '[:space:]' <"$file"
}

# ---------------------------------------------------------------- processes
# kafka_node_pid NODE_DIR : print the pid of the node's broker if it runs (stale pid files are removed).
kafka_node_pid() {
    local pidfile="$1/kafka.pid" pid
    [ -f "$pidfile" ] || return 1
    pid="$(tr -d '[:space:]' <"$pidfile")"
    if pid_alive "$pid" && pid_cmdline_has "$pid" "$1/server.properties"; then
        printf '%s\n' "$pid"
        return 0
    fi
    rm -f "$pidfile"
    return 1
}

# kafka_node_launch NODE_DIR HEAP_MAX HEAP_MIN : start the broker in the background, detached.
kafka_node_launch() {
    local node_dir="$1" xmx="$2" xms="$3"
    kafka_java_init
    mkdir -p "$node_dir/logs"
    rm -f "$node_dir/kafka.pid"
    # setsid: own session, so the broker survives the calling shell / CI step and a Ctrl-C there.
    # The inner shell writes its own pid (== the java pid after exec) so the pid file is exact.
    # shellcheck disable=SC2016  # expanded by the inner shell
    setsid nohup bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$node_dir/kafka.pid" \
        "$KAFKA_JAVA" "-Xmx$xmx" "-Xms$xms" \
        -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError \
        -Djava.awt.headless=true \
        -Dkafka.logs.dir="$node_dir/logs" \
        -Dlog4j2.configurationFile="$KAFKA_LOG4J" \
        -cp "$KAFKA_LIB/*" kafka.Kafka "$node_dir/server.properties" \
        >>"$node_dir/logs/console.log" 2>&1 </dev/null 9<&- &
    for _ in $(seq 1 50); do
        [ -s "$node_dir/kafka.pid" ] && return 0
        sleep 0.1
    done
    die "broker process did not start (see $node_dir/logs/console.log)"
}

# kafka_wait_ready BOOTSTRAP TIMEOUT NODE_DIR... : wait until every node's process listens and
# the cluster serves metadata listing all those nodes as brokers.
kafka_wait_ready() {
    local bootstrap="$1" timeout="$2"
    shift 2
    local deadline=$(( $(date +%s) + timeout )) node_dir port
    for node_dir in "$@"; do
        port="$(sed -n 's/^listeners=PLAINTEXT:\/\/127\.0\.0\.1:\([0-9]*\),.*/\1/p' "$node_dir/server.properties")"
        until port_open 127.0.0.1 "$port"; do
            if ! kafka_node_pid "$node_dir" >/dev/null; then
                kafka_show_failure "$node_dir"
                die "the broker in $node_dir exited during start-up (logs above)"
            fi
            if [ "$(date +%s)" -ge "$deadline" ]; then
                kafka_show_failure "$node_dir"
                die "broker $node_dir did not listen on 127.0.0.1:$port within ${timeout}s"
            fi
            sleep 0.3
        done
    done
    # The ports are open; now prove the brokers serve metadata. BrokerApiVersionsCommand sends a
    # MetadataRequest through BOOTSTRAP and then ApiVersions to every broker the metadata lists,
    # printing one "host:port (id: N ...) -> (...)" block per broker.
    local want=$# seen left
    while :; do
        left=$(( deadline - $(date +%s) ))
        [ "$left" -ge 10 ] || left=10
        seen="$(kafka_tool_timeout "$left" org.apache.kafka.tools.BrokerApiVersionsCommand \
                    --bootstrap-server "$bootstrap" 2>/dev/null | grep -c '^[^ ]* (id: [0-9]*' || true)"
        [ "${seen:-0}" -ge "$want" ] && return 0
        [ "$(date +%s)" -lt "$deadline" ] || break
        sleep 1
    done
    for node_dir in "$@"; do kafka_show_failure "$node_dir"; done
    die "Kafka at $bootstrap did not list $want live broker(s) in its metadata within ${timeout}s (saw ${seen:-0})"
}

kafka_show_failure() {
    local node_dir="$1"
    {
        echo "---- last lines of $node_dir/logs/console.log ----"
        tail -n 20 "$node_dir/logs/console.log" 2>/dev/null || true
        echo "---- last lines of $node_dir/logs/server.log ----"
        tail -n 20 "$node_dir/logs/server.log" 2>/dev/null || true
    } >&2
}

# kafka_node_signal_stop NODE_DIR : send SIGTERM (controlled shutdown) if the node runs.
kafka_node_signal_stop() {
    local pid
    pid="$(kafka_node_pid "$1")" || return 0
    kill -TERM "$pid" 2>/dev/null || true
}

# kafka_node_wait_stopped NODE_DIR TIMEOUT : wait for exit, SIGKILL after TIMEOUT seconds.
kafka_node_wait_stopped() {
    local node_dir="$1" timeout="$2" pid
    pid="$(kafka_node_pid "$node_dir")" || return 0
    for _ in $(seq 1 $((timeout * 5))); do
        pid_alive "$pid" || { rm -f "$node_dir/kafka.pid"; return 0; }
        sleep 0.2
    done
    warn "broker pid $pid ($node_dir) did not stop within ${timeout}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 1 25); do
        pid_alive "$pid" || break
        sleep 0.2
    done
    rm -f "$node_dir/kafka.pid"
}
