#!/usr/bin/env bash
# Dispatcher benchmark: delivery rate against wrk's ceiling on the same sinks and the
# dispatcher's CPU per delivery; with one endpoint (E=1) also publish-to-receive latency at half
# that rate and the dispatcher's peak RSS (also with a backlog waiting). With E > 1 (fan-out):
# E endpoints of one business, each with its own sink, every event delivered to all of them.
# Builds nothing; see README.md ("Dispatcher") for the build command and recorded figures.
#
#   bench/dispatcher_bench.sh [BUILD_DIR]         (default build/release)
#   env: N=8000 E=1 CONC=10 WRK_SECS=10 WRK_T=2 (1 when E > 1) LAT_SECS=10
#        BACKLOG=100000 (0 skips) MAX_SECS=900
#        FEED=live (the rate run's events are published while the dispatcher consumes them) or
#        backlog (published first, with the dispatcher stopped: its own rate, full fetches)
#        REPLICA=1 gives Redis a replica, so hand-offs WAIT for it (redis.wait_replicas=auto)
#        REDIS_MODE=cluster runs on a local 3-primary Redis Cluster (redis+cluster://)
#        KEEP=1 keeps the temp dir (logs); SETS="key=value ..." extra dispatcher settings (e.g. kafka.librdkafka.fetch.wait.max.ms=10)
#        SYSCALLS=FILE counts system calls by kind and thread (perf stat on tracepoints: cheap)
#        PERF=FILE records the dispatcher with `perf record -g` during the rate run only
#        (then: perf report -i FILE --no-children)
#
# Kafka is librdkafka's mock cluster run by `tresse-dispatcher dev-broker` in its own process,
# so the dispatcher's RSS does not include the broker's copy of the events.
set -euo pipefail

MAX_SECS=${MAX_SECS:-900}
# The whole run is bounded: timeout sends SIGTERM, and the trap below cleans up.
if [ -z "${TRESSE_BENCH_TIMED:-}" ]; then
  TRESSE_BENCH_TIMED=1 exec timeout --foreground "$MAX_SECS" "$0" "$@"
fi

BUILD=${1:-build/release}
N=${N:-8000}  # one partition; the mock broker trims a partition past ~5 MB
E=${E:-1}     # endpoints; fan-out multiplies deliveries (N x E), not Kafka bytes
CONC=${CONC:-10}
WRK_T=${WRK_T:-$([ "$E" -eq 1 ] && echo 2 || echo 1)}
WRK_SECS=${WRK_SECS:-10}
LAT_SECS=${LAT_SECS:-10}
BACKLOG=${BACKLOG:-100000}
FEED=${FEED:-live}
case "$FEED" in live | backlog) ;; *) echo "FEED is live or backlog, not $FEED" >&2; exit 2 ;; esac
BUSINESS=biz_bench

DISPATCHER=$BUILD/dispatcher/tresse-dispatcher
WEBHOOK=$BUILD/receiver/cli/tresse-webhook
PUBLISH=$BUILD/common/tresse-publish
LAT_PUBLISH=$BUILD/bench/tresse-bench-latency-publish
for b in "$DISPATCHER" "$WEBHOOK" "$PUBLISH" "$LAT_PUBLISH"; do
  [ -x "$b" ] || { echo "missing $b (build it first, see bench/README.md)" >&2; exit 2; }
done
command -v wrk >/dev/null || { echo "wrk is not installed" >&2; exit 2; }
# A tresse-publish event is about 370 B of JSON (~450 B in the partition's log): past ~11 000
# events the mock broker deletes unread ones and the run never sees all its deliveries.
[ "$N" -le 11000 ] || echo "warning: N=$N may exceed the mock broker's ~5 MB per partition" >&2

. "$(dirname "$0")/lib.sh"
delivered() { metric 'tresse_deliveries_total{outcome="delivered"}'; }
# wait_delivered TARGET SECONDS: polls /metrics every 20 ms until TARGET deliveries; prints the
# time. One poller process on one connection (bench/poll_metric.py): a shell loop spawning curl
# and friends each poll cost the machine a third of a core during this run and none during
# wrk's. (Each poll is a /metrics scrape, which costs the dispatcher a little CPU too.)
wait_delivered() {
  python3 "$(dirname "$0")/poll_metric.py" "$ADMIN_PORT" 'tresse_deliveries_total{outcome="delivered"}' \
    "$1" "$2" "$DISPATCHER_PID" "$TMP/timeline.txt"
}
# start_waiting TARGET SECONDS: wait_delivered in the background, its time into $TMP/waited;
# returns once it has polled (so the run it times starts after the poller did). Then
# `wait "$WAITER_PID"` (not in a subshell: only this shell can wait for it) and t=$(waited).
start_waiting() {
  rm -f "$TMP/poller.ready"
  READY_FILE="$TMP/poller.ready" wait_delivered "$1" "$2" >"$TMP/waited" &
  WAITER_PID=$!
  while [ ! -e "$TMP/poller.ready" ]; do
    kill -0 "$WAITER_PID" 2>/dev/null || break
    sleep 0.01
  done
}
waited() { cat "$TMP/waited"; }
# others_ticks: "sinks broker" CPU clock ticks so far of the E sinks (summed) and the broker.
others_ticks() {
  local sinks=0 pid u s
  for pid in "${SINK_PIDS[@]}"; do
    read -r u s < <(cpu_ticks "$pid")
    sinks=$((sinks + u + s))
  done
  read -r u s < <(cpu_ticks "$BROKER_PID")
  echo "$sinks $((u + s))"
}
kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$DISPATCHER_PID/status"; }
# start_sink PORT SECRET [listen options...]: a tresse-webhook sink verifying with SECRET.
start_sink() {
  local port=$1 secret=$2
  shift 2
  "$WEBHOOK" listen --port "$port" --secret "$secret" "$@" 2>"$TMP/sink_$port.log" &
  PIDS+=($!)
  SINK_PIDS+=($!)
  wait_for 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port"
}
set_url() {
  "$DISPATCHER" endpoints update --redis "$REDIS" --id "$ENDPOINT" --url "$1" >/dev/null 2>&1
  sleep 1.5  # registry.refresh_interval is 500ms
}

# --- infrastructure ------------------------------------------------------------------------
# REDIS_MODE=cluster: a local 3-primary Redis Cluster (lib.sh); its first node's CPU and
# commandstats are reported (a third of the work). bench/redis_modes_bench.sh compares modes.
if [ "${REDIS_MODE:-single}" = cluster ]; then start_redis_cluster 3; else start_redis; fi
if [ "${REPLICA:-0}" = 1 ]; then
  # A replica on the same host: every hand-off then ends with WAIT 1 (README, "What WAIT buys").
  redis-cli -p "$REDIS_PORT" CONFIG SET repl-diskless-sync-delay 0 >/dev/null
  REPLICA_PORT=$(free_port)
  redis-server --port "$REPLICA_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --replicaof 127.0.0.1 "$REDIS_PORT" >/dev/null &
  PIDS+=($!)
  wait_for 30 sh -c "redis-cli -p $REDIS_PORT INFO replication | grep -q 'state=online'"
fi

start_dev_broker

# E endpoints of BUSINESS subscribed to every event, endpoint i at its own sink SINK_PORTS[i]
# verifying with its secret SECRETS[i]. The dispatcher starts after, so no set_url wait.
export TRESSE_LOG_LEVEL=error
ENDPOINTS=()
SINK_PIDS=()
SECRETS=()
SINK_PORTS=()
for i in $(seq 0 $((E - 1))); do
  SINK_PORTS[i]=$(free_port)
  "$DISPATCHER" endpoints create --redis "$REDIS" --business "$BUSINESS" \
    --url "http://127.0.0.1:${SINK_PORTS[i]}/" --events '*' >"$TMP/endpoint_$i.json" 2>/dev/null
  read -r "ENDPOINTS[i]" "SECRETS[i]" < <(python3 -c \
    'import json,sys; e = json.load(open(sys.argv[1])); print(e["id"], e["secret"])' \
    "$TMP/endpoint_$i.json")
  start_sink "${SINK_PORTS[i]}" "${SECRETS[i]}" --quiet
done
ENDPOINT=${ENDPOINTS[0]}  # the one the E=1 parts (latency, backlog) move between sinks
SECRET=${SECRETS[0]}

start_dispatcher warn

# Warm-up: one event end to end (consumer group joined, endpoints loaded, connections open).
"$PUBLISH" --brokers "$BROKERS" --type appointment.created --business "$BUSINESS" >/dev/null
wait_delivered "$E" 60 >/dev/null

# --- 1. delivery rate and CPU per delivery -------------------------------------------------
DELIVERIES=$((N * E))
base=$(delivered)
if [ -n "${PERF:-}" ]; then
  start_perf "$PERF" "$DISPATCHER_PID"
  sleep 0.5  # perf attached
fi
if [ -n "${SYSCALLS:-}" ]; then  # system calls by kind and thread, from kernel tracepoints
  perf stat --per-thread -e "${SYSCALL_EVENTS:-$(printf 'syscalls:sys_enter_%s,' recvfrom recvmsg sendmsg sendto read write poll epoll_wait futex timerfd_settime epoll_ctl madvise | sed 's/,$//')}" -o "$SYSCALLS" -p "$DISPATCHER_PID" 2>/dev/null &
  SYSCALLS_PID=$!
  sleep 1
fi
if [ -n "${STRACE:-}" ]; then  # system calls by kind (slows the dispatcher: counts, not time)
  strace ${STRACE_OPTS:--c} -f -o "$STRACE" -p "$DISPATCHER_PID" 2>/dev/null &
  STRACE_PID=$!
  sleep 0.5
fi
: >"$TMP/timeline.txt"
start_waiting $((base + DELIVERIES)) $((120 + DELIVERIES / 500))
if [ "$FEED" = backlog ]; then
  # The N events wait in Kafka before the dispatcher sees one: it is stopped (SIGSTOP; its
  # consumer's session outlives the few seconds) while they are published, so the rate below
  # is the dispatcher's own, with full fetches, not the publisher's and the mock's.
  # (callgrind's counts are zeroed first: vgdb cannot reach a stopped process)
  [ -n "${CALLGRIND:-}" ] && callgrind_control -z "$DISPATCHER_PID" >/dev/null
  kill -STOP "$DISPATCHER_PID"
  "$PUBLISH" --brokers "$BROKERS" --count "$N" --business "$BUSINESS" --timeout 120 \
    >/dev/null 2>"$TMP/publish.log"
fi
read -r user0 sys0 < <(cpu_ticks "$DISPATCHER_PID")
read -r ruser0 rsys0 < <(cpu_ticks "$REDIS_PID")
switches0=$(context_switches "$DISPATCHER_PID")
thread_ticks "$DISPATCHER_PID" >"$TMP/threads0.txt"
read -r busy0 idle0 < <(machine_ticks)
others0=$(others_ticks)
redis-cli -p "$REDIS_PORT" CONFIG RESETSTAT >/dev/null  # commands per delivery, below
# CALLGRIND=1: the dispatcher runs under valgrind --tool=callgrind (a BUILD_DIR whose
# tresse-dispatcher wraps it, see README.md): its counts cover exactly the rate run.
[ -n "${CALLGRIND:-}" ] && [ "$FEED" = live ] && callgrind_control -z "$DISPATCHER_PID" >/dev/null
t0=$(now)
if [ "$FEED" = backlog ]; then
  kill -CONT "$DISPATCHER_PID"
else
  "$PUBLISH" --brokers "$BROKERS" --count "$N" --business "$BUSINESS" --timeout 120 \
    >/dev/null 2>"$TMP/publish.log" &
  PIDS+=($!)
fi
wait "$WAITER_PID"  # fails (set -e) when the poller timed out
t1=$(waited)
read -r user1 sys1 < <(cpu_ticks "$DISPATCHER_PID")
read -r ruser1 rsys1 < <(cpu_ticks "$REDIS_PID")
switches1=$(context_switches "$DISPATCHER_PID")
thread_ticks "$DISPATCHER_PID" >"$TMP/threads1.txt"
read -r busy1 idle1 < <(machine_ticks)
others1=$(others_ticks)
REDIS_STATS=$(redis-cli -p "$REDIS_PORT" INFO commandstats)
printf '%s\n' "$REDIS_STATS" >"$TMP/redis-commandstats.txt"  # usec_per_call by command (KEEP=1)
[ -n "${CALLGRIND:-}" ] && callgrind_control -d rate-run "$DISPATCHER_PID" >/dev/null
stop_perfs
if [ -n "${SYSCALLS:-}" ]; then
  kill -INT "$SYSCALLS_PID"
  wait "$SYSCALLS_PID" 2>/dev/null || true
fi
if [ -n "${STRACE:-}" ]; then
  kill -INT "$STRACE_PID"
  wait "$STRACE_PID" 2>/dev/null || true
fi
window=$(($(delivered) - base))
# The rate counts from the first delivery seen (a poll of /metrics, every ~30 ms): a new
# librdkafka producer sometimes holds its first messages for ~1 s against the mock broker (see
# README, Findings), which is the publisher's start, not the dispatcher's speed. FULL_RATE
# counts from the publisher's start.
FULL_RATE=$(python3 -c "print(round($DELIVERIES / ($t1 - $t0)))")
read -r t_first n_first ticks_first < <(awk -v b="$base" '$2 > b { print $1, $2, $3; exit }' "$TMP/timeline.txt") || true  # none: every delivery came between two polls
if [ -z "${t_first:-}" ]; then t_first=$t0 n_first=$base ticks_first=$((user0 + sys0)); fi
RATE=$(python3 -c "print(round(($base + $DELIVERIES - $n_first) / ($t1 - $t_first)))")
SECS_RATE=$(python3 -c "print('%.2f' % ($t1 - $t0))")
ticks=$((user1 - user0 + sys1 - sys0))
CPU_S=$(python3 -c "print('%.2f' % ($ticks / $CLK_TCK))")
CPU_US=$(python3 -c "print('%.1f' % (1e6 * $ticks / $CLK_TCK / $window))")
# From the first delivery on: before it, the consumer only polls an empty topic while the new
# producer starts (~1 s against the mock), every MOCK_FETCH_WAIT_MS (1 ms), which a real broker
# (holding the fetch until data arrives, under the default 20 ms) would not cost. The ticks
# are sampled with each /metrics poll (every ~20 ms; a tick is 10 ms).
CPU_FIRST_US=$(python3 -c "
n = $base + $DELIVERIES - $n_first
print('%.1f' % (1e6 * ($user1 + $sys1 - $ticks_first) / $CLK_TCK / n) if n > 0 else 'n/a')")
# Redis shares the machine: its CPU per delivery is part of what a delivery costs here.
REDIS_US=$(python3 -c "print('%.1f' % (1e6 * ($ruser1 - $ruser0 + $rsys1 - $rsys0) / $CLK_TCK / $window))")
# "cmdstat_lpush:calls=812,usec=..." lines: the commands Redis ran per delivery, by kind.
REDIS_CALLS=$(printf '%s\n' "$REDIS_STATS" | python3 -c "
import sys, re
calls = {m.group(1): int(m.group(2)) for m in re.finditer(r'cmdstat_([a-z|]+):calls=(\d+)', sys.stdin.read())}
calls.pop('config|resetstat', None); calls.pop('info', None)
total = sum(calls.values())
top = sorted(calls.items(), key=lambda kv: -kv[1])[:8]
print('%.2f commands per delivery: ' % (total / $window) + ', '.join('%s %.2f' % (k.upper(), v / $window) for k, v in top))")
read -r sinks0 broker0 <<<"$others0"
read -r sinks1 broker1 <<<"$others1"
# Where the machine's two cores went: if it is saturated (idle near 0), a delivery's cost to the
# whole machine (dispatcher, Redis, sinks, broker, publisher, the kernel) sets the rate.
MACHINE=$(python3 -c "
t = 1e6 / $CLK_TCK / $window
busy, idle = $busy1 - $busy0, $idle1 - $idle0
print('%.1f us per delivery, %.0f %% idle; sinks %.1f us, broker %.1f us' % (busy * t, 100.0 * idle / max(1, busy + idle), ($sinks1 - $sinks0) * t, ($broker1 - $broker0) * t))")
# The busiest threads' share of the run's wall clock: a thread near 100 % is what the rate waits
# for; well below, the rate waits on something else (the sink, the scheduler, the feed).
THREADS=$(python3 - "$TMP/threads0.txt" "$TMP/threads1.txt" "$t0" "$t1" "$CLK_TCK" <<'EOF'
import sys
def load(p):
    out = {}
    for line in open(p):
        tid, name, ticks = line.split()
        out[tid] = (name, int(ticks))
    return out
a, b = load(sys.argv[1]), load(sys.argv[2])
wall = float(sys.argv[4]) - float(sys.argv[3])
busy = sorted(((t - a.get(tid, (n, 0))[1], n) for tid, (n, t) in b.items()), reverse=True)[:4]
print(", ".join("%s %.0f %%" % (n, 100.0 * t / float(sys.argv[5]) / wall) for t, n in busy if t > 0))
EOF
)
SWITCHES=$(python3 -c "print('%.2f' % (($switches1 - $switches0) / $window))")
CPU_SYS=$(python3 -c "print('%.0f %%' % (100.0 * ($sys1 - $sys0) / max(1, $ticks)))")
HWM_RATE_KB=$(kb VmHWM)
failed=$(metric 'tresse_deliveries_total{outcome="retry_scheduled"}')
deferred=$(metric 'tresse_deliveries_total{outcome="deferred"}')
ATTEMPT_MS=$(curl -sf "http://127.0.0.1:$ADMIN_PORT/metrics" | awk '
  $1 == "tresse_attempt_duration_seconds_sum" { s = $2 }
  $1 == "tresse_attempt_duration_seconds_count" { c = $2 }
  END { printf "%.2f", c ? 1000 * s / c : 0 }')

# --- 2. wrk ceiling: the same signed body, the same sinks, CONC connections each ------------
# E wrk processes at the same time, one per sink, each posting the body signed with that
# endpoint's secret; the ceiling is the sum of their rates.
python3 - "$TMP/body.json" <<'EOF'
import json, sys
ev = {"id": "evt_bench_wrk", "type": "appointment.created", "business_id": "biz_bench",
      "livemode": True, "timestamp": "2026-04-19T10:32:00Z",
      "data": {"id": "apt_000000000001", "status": "confirmed", "client_id": "cli_00000001",
               "service_id": "svc_hair_color", "staff_id": "stf_maria",
               "starts_at": "2026-04-22T14:00:00-04:00", "ends_at": "2026-04-22T15:30:00-04:00",
               "duration_minutes": 90, "price_cents": 18500}}
open(sys.argv[1], "w").write(json.dumps(ev, separators=(",", ":")))
EOF
wrk_pids=()
for i in $(seq 0 $((E - 1))); do
  "$WEBHOOK" sign --secret "${SECRETS[i]}" --id evt_bench_wrk --timestamp "$(date +%s)" \
    --body-file "$TMP/body.json" >"$TMP/headers_$i"
  {
    echo 'wrk.method = "POST"'
    printf 'wrk.body = [==[%s]==]\n' "$(cat "$TMP/body.json")"
    echo 'wrk.headers["content-type"] = "application/json"'
    while IFS=': ' read -r name value; do
      printf 'wrk.headers["%s"] = "%s"\n' "$name" "$value"
    done <"$TMP/headers_$i"
  } >"$TMP/post_$i.lua"
done
read -r wrk_sinks0 _ < <(others_ticks)
for i in $(seq 0 $((E - 1))); do
  wrk -t"$WRK_T" -c"$CONC" -d"${WRK_SECS}s" --latency -s "$TMP/post_$i.lua" \
    "http://127.0.0.1:${SINK_PORTS[i]}/" >"$TMP/wrk_$i.txt" &
  wrk_pids+=($!)
  PIDS+=($!)
done
wait "${wrk_pids[@]}"
read -r wrk_sinks1 _ < <(others_ticks)
WRK_RATE=0
WRK_RATES=""
for i in $(seq 0 $((E - 1))); do
  res=$(wrk_result "$TMP/wrk_$i.txt")  # fails the run if sink i refused the signed body
  read -r r p50 p99 <<<"$res"
  WRK_RATE=$((WRK_RATE + r))
  WRK_RATES+="${WRK_RATES:+ }$r"
  if [ "$i" -eq 0 ]; then WRK_P50=$p50 WRK_P99=$p99; fi
done
# What a request costs the sinks under wrk, next to what a delivery costs them (whole machine):
# the same sinks, the same signed body.
WRK_SINKS_US=$(python3 -c "print('%.1f' % (1e6 * ($wrk_sinks1 - $wrk_sinks0) / $CLK_TCK / max(1, $WRK_RATE * $WRK_SECS)))")

# --- 3. publish-to-receive latency at half the measured rate --------------------------------
# A second sink prints one line per webhook; a reader stamps each line with the wall clock on
# arrival. The publisher prints the wall clock just after handing each event to librdkafka.
# With E > 1 neither this nor the backlog part runs (they move endpoint 1 between sinks).
LAT_RATE=n/a
HWM_BACKLOG_KB=n/a
PENDING=n/a
LAG=n/a
if [ "$E" -eq 1 ]; then
  LAT_PORT=$(free_port)
  stamp_lines "$TMP/lines" "$TMP/received.txt"
  "$WEBHOOK" listen --port "$LAT_PORT" --secret "$SECRET" 2>/dev/null >"$TMP/lines" &
  PIDS+=($!)
  wait_for 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$LAT_PORT"
  set_url "http://127.0.0.1:$LAT_PORT/"
  LAT_RATE=${LAT_RATE_SET:-$((RATE / 2))}
  LAT_N=$((LAT_RATE * LAT_SECS))
  base=$(delivered)
  "$LAT_PUBLISH" "$BROKERS" "$BUSINESS" "$LAT_N" "$LAT_RATE" >"$TMP/published.txt"
  wait_delivered $((base + LAT_N)) 120 >/dev/null
  sleep 0.5  # the last lines through the pipe
  read -r LAT_P50 LAT_P99 LAT_MAX LAT_COUNT < <(python3 - "$TMP/published.txt" \
    "$TMP/received.txt" <<'EOF'
import json, sys
sent = {}
for line in open(sys.argv[1]):
    i, t = line.split()
    sent[i] = int(t)
lat = []
for line in open(sys.argv[2]):
    t, _, j = line.partition(" ")
    r = json.loads(j)
    if r.get("outcome") == "valid" and r["id"] in sent:
        lat.append((int(t) - sent.pop(r["id"])) / 1e6)
lat.sort()
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
print("%.2f %.2f %.2f %d" % (q(0.50), q(0.99), lat[-1], len(lat)))
EOF
  )

  # --- 4. RSS with a backlog waiting behind a slow endpoint -----------------------------------
  if [ "$BACKLOG" -gt 0 ]; then
    SLOW_PORT=$(free_port)
    start_sink "$SLOW_PORT" "$SECRET" --quiet --delay-ms 1000
    set_url "http://127.0.0.1:$SLOW_PORT/"
    "$PUBLISH" --brokers "$BROKERS" --count "$BACKLOG" --business "$BUSINESS" --timeout 120 \
      >/dev/null 2>"$TMP/publish-backlog.log"
    sleep 10  # let the dispatcher take in what it will
    HWM_BACKLOG_KB=$(kb VmHWM)
    PENDING=$(metric tresse_records_pending)
    LAG=$(metric tresse_consumer_lag)
  fi
fi

# --- report --------------------------------------------------------------------------------
pct() { python3 -c "print('%.0f %%' % (100.0 * $1 / $2))"; }
mb() { [ "$1" = n/a ] && echo n/a || python3 -c "print('%.1f MB' % ($1 / 1024))"; }
if [ "$E" -eq 1 ]; then
  what="$N events, one endpoint"
  ceiling="wrk -t$WRK_T -c$CONC on the same sink"
else
  what="$N events x $E endpoints of one business (fan-out, a sink each)"
  ceiling="$E x wrk -t$WRK_T -c$CONC at once, one per sink: $WRK_RATES"
fi
cat <<EOF

Dispatcher benchmark: $what, endpoint_concurrency=$CONC, build $BUILD, feed $FEED$([ "${REPLICA:-0}" = 1 ] && echo ", Redis with a replica (WAIT 1 per hand-off)")
  delivery rate          $RATE/s from the first delivery ($FULL_RATE/s from the publisher's start: $DELIVERIES deliveries in $SECS_RATE s)   ratio $(pct "$RATE" "$WRK_RATE") of the ceiling   goal >= 50 %
  ceiling                $WRK_RATE/s ($ceiling)
  dispatcher CPU         $CPU_FIRST_US us per delivery from the first delivery on; $CPU_US us from the publisher's start ($CPU_S s for $window deliveries, $CPU_SYS in the kernel)   goal <= 30 us
  context switches       $SWITCHES per delivery (all the dispatcher's threads)
  busiest threads        ${THREADS:-n/a} (CPU over the rate run's wall clock)
  whole machine          $MACHINE (under wrk the sinks spent $WRK_SINKS_US us per request)
  redis-server CPU       $REDIS_US us per delivery ($REDIS_CALLS)
  retries scheduled      $failed (should be 0), deferred $deferred; mean attempt ${ATTEMPT_MS} ms
  peak RSS (rate run)    $(mb "$HWM_RATE_KB")
EOF
if [ "$E" -eq 1 ]; then
  cat <<EOF
  latency @ $LAT_RATE/s      p50 ${LAT_P50} ms  p99 ${LAT_P99} ms  max ${LAT_MAX} ms  ($LAT_COUNT events)   goal p99 <= 10 ms
    (wrk at saturation, sink only: p50 $WRK_P50  p99 $WRK_P99)
  peak RSS, backlog      $(mb "$HWM_BACKLOG_KB") after publishing $BACKLOG events to a 1 s sink (records pending $PENDING, consumer lag $LAG)   goal <= 150 MB
EOF
else
  echo "  (latency and backlog RSS are measured with E=1 only)"
fi
