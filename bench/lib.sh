# Shared by the bench/*.sh scripts (sourced): a temp dir, background processes stopped on exit,
# free ports, polling waits and /metrics reads.
#
#   . "$(dirname "$0")/lib.sh"
#   redis-server --port "$(free_port)" ... & PIDS+=($!)
#   wait_for 20 redis-cli -p "$PORT" ping

TMP=$(mktemp -d)
PIDS=()
cleanup() {
  local p
  # The dispatcher first, alone: it drains while Redis and Kafka are still up, so that its log
  # ends with its own shutdown, not with their disconnects.
  if [ -n "${DISPATCHER_PID:-}" ] && kill -TERM "$DISPATCHER_PID" 2>/dev/null; then
    timeout 5 tail --pid="$DISPATCHER_PID" -f /dev/null || true
  fi
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  sleep 0.5
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${KEEP:-}" ] && echo "kept $TMP" >&2 || rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
now() { date +%s.%N; }
# wait_for SECONDS COMMAND...: polls COMMAND every 50 ms until it succeeds.
wait_for() {
  local deadline=$(($(date +%s) + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || { echo "timed out waiting for: $*" >&2; return 1; }
    sleep 0.05
  done
}
metric() {  # metric 'name{labels}' -> value (0 when absent), from the admin port ADMIN_PORT
  curl -sf "http://127.0.0.1:$ADMIN_PORT/metrics" |
    awk -v k="$1" '$1 == k { v = $2 } END { printf "%d\n", v + 0 }'
}
# stamp_lines FIFO OUT: in the background, copies each line written into FIFO to OUT prefixed
# with the wall clock (ns) at which it arrived. Creates FIFO.
stamp_lines() {
  mkfifo "$1"
  python3 -c '
import os, sys, time
out = open(sys.argv[1], "w", buffering=1 << 16)
buf = b""
while True:
    chunk = os.read(0, 65536)
    if not chunk:
        break
    t = time.time_ns()
    buf += chunk
    *lines, buf = buf.split(b"\n")
    for line in lines:
        out.write("%d %s\n" % (t, line.decode()))
    out.flush()
' "$2" <"$1" &
  PIDS+=($!)
}
# start_redis: a throw-away redis-server on a free port; sets REDIS_PORT and REDIS (its URL).
# REDIS_CALLGRIND=DIR: under `valgrind --tool=callgrind` (dumps in DIR/redis.callgrind.*; a
# script zeroes and dumps the counts around what it measures: callgrind_totals reads them).
start_redis() {
  REDIS_PORT=$(free_port)
  local wrap=()
  if [ -n "${REDIS_CALLGRIND:-}" ]; then
    mkdir -p "$REDIS_CALLGRIND"
    wrap=(valgrind --tool=callgrind --dump-instr=no
      "--callgrind-out-file=$REDIS_CALLGRIND/redis.callgrind.%p")
  fi
  "${wrap[@]}" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    >/dev/null 2>&1 &
  REDIS_PID=$!
  PIDS+=($REDIS_PID)
  REDIS=redis://127.0.0.1:$REDIS_PORT/0
  wait_for 20 redis-cli -p "$REDIS_PORT" ping
}
# callgrind_totals FILE: the instructions (Ir) a callgrind dump counted.
callgrind_totals() { awk '/^(summary|totals):/ { print $2; exit }' "$1"; }
# start_redis_cluster [PRIMARIES]: a throw-away Redis Cluster of PRIMARIES (default 3) nodes on
# free ports, joined by `redis-cli --cluster create`; sets REDIS (redis+cluster://, every node a
# seed), REDIS_PORTS and REDIS_PIDS, and REDIS_PORT and REDIS_PID to the first node's.
start_redis_cluster() {
  local n=${1:-3} i port nodes=() seeds=""
  REDIS_PORTS=() REDIS_PIDS=()
  for i in $(seq 1 "$n"); do
    # The cluster bus listens on port + 10000, which must be a port too.
    port=$(free_port)
    while [ "$port" -gt 55535 ]; do port=$(free_port); done
    mkdir -p "$TMP/cluster-$port"
    redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no       --cluster-enabled yes --cluster-config-file "$TMP/cluster-$port/nodes.conf"       --dir "$TMP/cluster-$port" >/dev/null &
    REDIS_PIDS+=($!)
    PIDS+=($!)
    REDIS_PORTS+=("$port")
    nodes+=("127.0.0.1:$port")
    seeds="$seeds${seeds:+,}127.0.0.1:$port"
    wait_for 20 redis-cli -p "$port" ping
  done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >/dev/null
  for port in "${REDIS_PORTS[@]}"; do
    wait_for 30 sh -c "redis-cli -p $port CLUSTER INFO | grep -q cluster_state:ok"
  done
  REDIS_PORT=${REDIS_PORTS[0]}
  REDIS_PID=${REDIS_PIDS[0]}
  REDIS=redis+cluster://$seeds/0
}
# start_dev_broker: librdkafka's mock cluster in its own process (`tresse-dispatcher dev-broker`,
# so the dispatcher's RSS does not include the broker's copy of the events); sets BROKERS.
start_dev_broker() {
  "$DISPATCHER" dev-broker --bootstrap-file "$TMP/bootstrap" >/dev/null 2>"$TMP/broker.log" &
  BROKER_PID=$!
  PIDS+=($BROKER_PID)
  wait_for 30 test -s "$TMP/bootstrap"
  BROKERS=$(cat "$TMP/bootstrap")
}
# start_dispatcher LOG_LEVEL: `tresse-dispatcher run` on BROKERS and REDIS with private networks
# allowed, endpoint_concurrency CONC, a 1 s drain and the extra settings in SETS; its log goes to
# $TMP/dispatcher.log. Sets ADMIN_PORT and DISPATCHER_PID.
# librdkafka's mock broker holds every fetch that finds no data for the whole fetch.wait.max.ms
# (src/rdkafka_mock_handlers.c: "we should cut the wait short ... but that is too much of a
# hassle"), where a real broker answers as soon as a record arrives. MOCK_FETCH_WAIT_MS=1 makes
# the mock answer like a real broker would, so that latency is the dispatcher's, not the mock's
# (the dispatcher's default is 20 ms; override with MOCK_FETCH_WAIT_MS=20 to see the mock's).
start_dispatcher() {
  ADMIN_PORT=$(free_port)
  # shellcheck disable=SC2046
  "$DISPATCHER" run --set kafka.brokers="$BROKERS" --set redis.url="$REDIS" \
    --set admin.listen="127.0.0.1:$ADMIN_PORT" --set delivery.allow_private_networks=true \
    --set delivery.endpoint_concurrency="$CONC" --set delivery.drain_timeout=1s \
    --set kafka.librdkafka.fetch.wait.max.ms="${MOCK_FETCH_WAIT_MS:-1}" \
    --set log.level="$1" $(for kv in ${SETS:-}; do printf -- '--set %s ' "$kv"; done) \
    2>"$TMP/dispatcher.log" &
  DISPATCHER_PID=$!
  PIDS+=($DISPATCHER_PID)
  wait_for "${START_SECS:-30}" curl -sf "http://127.0.0.1:$ADMIN_PORT/healthz"  # START_SECS: valgrind
}
# cpu_ticks PID: "user system", the process's CPU time so far (utime and stime from
# /proc/PID/stat) in clock ticks; CLK_TCK ticks make a second.
CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() {
  # Fields after "pid (comm) ": state is 1, utime 12, stime 13 (comm may hold spaces).
  sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12, $13 }'
}
# thread_ticks PID: "tid name ticks" per thread of PID (utime + stime; names: thread_name.hpp).
thread_ticks() {
  local t
  for t in /proc/"$1"/task/*; do
    printf '%s %s %s\n' "${t##*/}" "$(tr ' ' _ <"$t/comm")" "$(sed 's/^.*) //' "$t/stat" | awk '{ print $12 + $13 }')"
  done 2>/dev/null
}
# start_perf FILE PID: `perf record -g` of PID into FILE, in the background (its pid joins PERFS);
# stop_perfs: stops them all, which writes their files.
PERFS=()
start_perf() {
  perf record -q -g -F 2999 -o "$1" -p "$2" 2>/dev/null &
  PERFS+=($!)
}
stop_perfs() {
  local pid
  for pid in "${PERFS[@]}"; do
    kill -INT "$pid"
    wait "$pid" 2>/dev/null || true
  done
  PERFS=()
}
# machine_ticks: "busy idle" clock ticks of all CPUs so far (/proc/stat: user, nice, system,
# irq, softirq, steal are busy; idle and iowait are not).
machine_ticks() {
  awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat
}
# context_switches PID: the voluntary and involuntary context switches of all its threads (a
# thread that sleeps in epoll and is woken pays one; so does every cross-thread hand-off).
context_switches() {
  cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ { n += $2 } END { print n + 0 }'
}
# wrk_result FILE: "req/s p50 p99" from the output of `wrk --latency` in FILE. Fails (and prints
# FILE on stderr) if wrk got non-2xx answers, warns on socket errors.
wrk_result() {
  if grep -q "Non-2xx" "$1"; then
    echo "wrk got non-2xx answers ($1):" >&2
    cat "$1" >&2
    return 1
  fi
  grep -q "Socket errors" "$1" && echo "wrk: $(grep "Socket errors" "$1") ($1)" >&2
  awk '/Requests\/sec/ { r = $2 } $1 == "50%" { p50 = $2 } $1 == "99%" { p99 = $2 }
       END { printf "%d %s %s\n", r, p50, p99 }' "$1"
}
