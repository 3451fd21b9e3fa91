#!/usr/bin/env bash
# Ordered delivery benchmark (issue 12, §7): the delivery rate of one endpoint with
# `ordering: "per_resource"` against one with `"none"`, in one run, each getting N events spread
# round-robin over RESOURCES resources (data.id), each endpoint with its own verifying sink
# (`tresse-webhook listen --quiet`). The two are measured one after the other on the same
# dispatcher, redis-server and mock broker, unordered first. Builds nothing; see README.md
# ("Ordered delivery") for the build command and recorded figures.
#
#   bench/ordering_bench.sh [BUILD_DIR]          (default build/release)
#   env: N=6000 RESOURCES=100 CONC=10 (delivery.endpoint_concurrency) MAX_SECS=900 KEEP=1
#        FEED=backlog (default): each run's N events are published while the dispatcher is
#        stopped (SIGSTOP), then it is let go, so both runs consume whole fetches and neither
#        waits on the publisher; the mock broker then answers an empty fetch after the
#        dispatcher's default 20 ms (MOCK_FETCH_WAIT_MS), not 1 ms: at 1 ms the consumer and
#        the mock poll ~1 000 times a second once the events are in, a busy loop a real broker
#        does not cause, which took ~20 % of a core from the slower (ordered) run.
#        FEED=live: published while it runs, MOCK_FETCH_WAIT_MS=1 (the figures before
#        2026-12-02 evening)
#        SETS="key=value ..." (extra dispatcher settings)
#        PROFILE=1: Redis's slow log at 0 us over the ordered run, summed per command (scripts
#        by their first key's shape, the commands they run inside apart); slows that run down
#        PERF=FILE, REDIS_PERF=FILE: `perf record -g` of the dispatcher, of redis-server, over
#        the ordered run only
#        CALLGRIND=1 with a BUILD_DIR of bench/callgrind_build.sh (and START_SECS=120): the
#        dispatcher's counts zeroed before and dumped after the ordered run only
#        REDIS_CALLGRIND=DIR: redis-server under callgrind (dumps in DIR), its instructions
#        counted over each run: Redis's work per event, exact on a loaded host
set -euo pipefail

MAX_SECS=${MAX_SECS:-900}
if [ -z "${TRESSE_BENCH_TIMED:-}" ]; then
  TRESSE_BENCH_TIMED=1 exec timeout --foreground "$MAX_SECS" "$0" "$@"
fi

BUILD=${1:-build/release}
N=${N:-6000}
RESOURCES=${RESOURCES:-100}
CONC=${CONC:-10}
FEED=${FEED:-backlog}
case "$FEED" in
  backlog) MOCK_FETCH_WAIT_MS=${MOCK_FETCH_WAIT_MS:-20} ;;
  live) ;;
  *) echo "FEED must be backlog or live" >&2; exit 2 ;;
esac

# Past kafka.max_pending (10 000 records consumed and not handed off) the consumer pauses and
# resumes at half: `none` then measures that cycle (~14.5 k/s at N=12000), while ordered events
# are handed off once entered and never meet it, so the ratio reads ~100 % and means nothing.
if [ "$N" -gt 9000 ] && [[ "${SETS:-}" != *kafka.max_pending=* ]]; then
  echo "warning: N=$N is near or past kafka.max_pending (10000): the none rate measures the" \
    "consumer's backpressure; add SETS=\"kafka.max_pending=$((N * 4))\" (bench/README.md)" >&2
fi

DISPATCHER=$BUILD/dispatcher/tresse-dispatcher
WEBHOOK=$BUILD/receiver/cli/tresse-webhook
PUBLISH=$BUILD/common/tresse-publish
for b in "$DISPATCHER" "$WEBHOOK" "$PUBLISH"; do
  [ -x "$b" ] || { echo "missing $b (build it first, see bench/README.md)" >&2; exit 2; }
done

. "$(dirname "$0")/lib.sh"

start_redis
start_dev_broker
export TRESSE_LOG_LEVEL=error

# One endpoint (and sink) per ordering, each for its own business.
declare -A SINK_PID CPU
for mode in none per_resource; do
  port=$(free_port)
  "$DISPATCHER" endpoints create --redis "$REDIS" --business "biz_$mode" \
    --url "http://127.0.0.1:$port/hook" --events '*' >"$TMP/$mode.json" 2>/dev/null
  id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$TMP/$mode.json")
  "$DISPATCHER" endpoints update --redis "$REDIS" --id "$id" --ordering "$mode" >/dev/null
  secret=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["secret"])' "$TMP/$mode.json")
  "$WEBHOOK" listen --port "$port" --quiet --secret "$secret" 2>/dev/null &
  PIDS+=($!)
  SINK_PID[$mode]=$!
  wait_for 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port"
done

# events BUSINESS PREFIX COUNT: JSON lines, event i of resource apt_<i mod RESOURCES>.
events() {
  python3 - "$1" "$2" "$3" "$RESOURCES" <<'EOF'
import json, sys
business, prefix, count, resources = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
for i in range(count):
    print(json.dumps({"id": "%s%d" % (prefix, i), "type": "appointment.updated",
                      "business_id": business, "livemode": True,
                      "timestamp": "2026-04-19T10:32:00Z",
                      "data": {"id": "apt_%d" % (i % resources), "status": "confirmed",
                               "price_cents": 18500}}, separators=(",", ":")))
EOF
}
for mode in none per_resource; do
  events "biz_$mode" "evt_warm_${mode}_" "$RESOURCES" >"$TMP/warm_$mode.jsonl"
  events "biz_$mode" "evt_${mode}_" "$N" >"$TMP/run_$mode.jsonl"
done

start_dispatcher error
DELIVERED='tresse_deliveries_total{outcome="delivered"}'
# wait_delivered COUNT SECONDS: until the dispatcher counted COUNT deliveries.
# Prints the time it got there. One poller process (bench/poll_metric.py), not a shell loop
# spawning curl each poll, which took a share of the cores from the run it measured.
wait_delivered() {
  python3 "$(dirname "$0")/poll_metric.py" "$ADMIN_PORT" "$DELIVERED" "$1" "$2"
}

# Warm-up: the group joined, the endpoints loaded, connections and scripts in place.
for mode in none per_resource; do "$PUBLISH" --brokers "$BROKERS" --file "$TMP/warm_$mode.jsonl" >/dev/null 2>&1; done
wait_delivered $((2 * RESOURCES)) 120 >/dev/null

# run MODE: "rate" of N deliveries, from the first delivery the script sees to the last (the
# publisher's start, up to ~1 s against the mock broker, is left out: see "Dispatcher" above).
run() {
  local before first t0 t1 poller
  before=$(metric "$DELIVERED")
  : >"$TMP/timeline_$1.txt"
  rm -f "$TMP/poller.ready"
  # One poller for the whole run, started (and polled once) before the publisher.
  READY_FILE="$TMP/poller.ready" python3 "$(dirname "$0")/poll_metric.py" "$ADMIN_PORT" \
    "$DELIVERED" $((before + N)) 600 "$DISPATCHER_PID" "$TMP/timeline_$1.txt" >"$TMP/t1_$1" &
  poller=$!
  while [ ! -e "$TMP/poller.ready" ] && kill -0 "$poller" 2>/dev/null; do sleep 0.01; done
  local pub=""
  if [ "$FEED" = backlog ]; then
    # The poller's requests wait while the dispatcher is stopped (and reconnect after 5 s).
    kill -STOP "$DISPATCHER_PID"
    "$PUBLISH" --brokers "$BROKERS" --file "$TMP/run_$1.jsonl" >/dev/null 2>&1
    kill -CONT "$DISPATCHER_PID"
  else
    "$PUBLISH" --brokers "$BROKERS" --file "$TMP/run_$1.jsonl" >/dev/null 2>&1 &
    pub=$!
  fi
  wait "$poller"
  t1=$(cat "$TMP/t1_$1")
  [ -z "$pub" ] || wait "$pub"
  # From the first poll that saw a delivery of this run.
  read -r t0 first _ < <(awk -v b="$before" '$2 > b { print; exit }' "$TMP/timeline_$1.txt") || true
  if [ -z "${t0:-}" ]; then echo "every delivery came between two polls: N=$N is too small" >&2; return 1; fi
  python3 -c "print('%.0f' % (($before + $N - $first) / ($t1 - $t0)))"
}

# cpu_snapshot: "dispatcher redis sink_none sink_ordered" CPU ticks so far, and the
# dispatcher's threads in $TMP/threads.<tag> (thread_ticks).
cpu_snapshot() {
  local pid u s out=""
  for pid in "$DISPATCHER_PID" "$REDIS_PID" "${SINK_PID[none]}" "${SINK_PID[per_resource]}"; do
    read -r u s < <(cpu_ticks "$pid")
    out="$out $((u + s))"
  done
  thread_ticks "$DISPATCHER_PID" >"$TMP/threads.$1"
  echo $out
}
# cpu_per_event MODE BEFORE AFTER: CPU us per event of the dispatcher, its busiest thread,
# redis-server and MODE's sink over one run (clock ticks: ~10 ms, so ~2 us at N = 6 000).
cpu_per_event() {
  python3 - "$1" "$2" "$3" "$N" "$CLK_TCK" "$TMP/threads.$1.0" "$TMP/threads.$1.1" <<'EOF2'
import sys
mode, before, after, n, hz = sys.argv[1], sys.argv[2].split(), sys.argv[3].split(), int(sys.argv[4]), int(sys.argv[5])
us = lambda i: (int(after[i]) - int(before[i])) * 1e6 / hz / n
def threads(path):
    return {tid: (name, int(t)) for tid, name, t in (l.split() for l in open(path))}
t0, t1 = threads(sys.argv[6]), threads(sys.argv[7])
name, ticks = max(((nm, t - t0.get(tid, (nm, 0))[1]) for tid, (nm, t) in t1.items()), key=lambda x: x[1])
sink = 2 if mode == "none" else 3
print("dispatcher %.1f us (busiest thread %s %.1f us), redis-server %.1f us, sink %.1f us"
      % (us(0), name, ticks * 1e6 / hz / n, us(1), us(sink)))
EOF2
}
# measure MODE: the rate of run MODE in RATE[MODE], its CPU per event in CPU[MODE].
declare -A RATE
measure() {
  local before after
  before=$(cpu_snapshot "$1.0")
  RATE[$1]=$(run "$1")
  after=$(cpu_snapshot "$1.1")
  CPU[$1]=$(cpu_per_event "$1" "$before" "$after")
}

# redis_count MODE zero|dump: REDIS_CALLGRIND's counts zeroed before a run, dumped after it.
redis_count() {
  [ -n "${REDIS_CALLGRIND:-}" ] || return 0
  if [ "$2" = zero ]; then
    callgrind_control -z "$REDIS_PID" >/dev/null
  else
    callgrind_control -d "$1-run" "$REDIS_PID" >/dev/null
  fi
}
redis_count none zero
measure none
redis_count none dump
RATE_NONE=${RATE[none]}
[ -z "${PERF:-}" ] || start_perf "$PERF" "$DISPATCHER_PID"
[ -z "${REDIS_PERF:-}" ] || start_perf "$REDIS_PERF" "$REDIS_PID"
[ ${#PERFS[@]} -eq 0 ] || sleep 0.5  # perf attached
[ -n "${CALLGRIND:-}" ] && callgrind_control -z "$DISPATCHER_PID" >/dev/null
if [ -n "${PROFILE:-}" ]; then
  redis-cli -p "$REDIS_PORT" config set slowlog-max-len 1000000 >/dev/null
  redis-cli -p "$REDIS_PORT" config set slowlog-log-slower-than 0 >/dev/null
  redis-cli -p "$REDIS_PORT" slowlog reset >/dev/null
fi
redis-cli -p "$REDIS_PORT" info commandstats >"$TMP/commandstats.0"
redis_count per_resource zero
measure per_resource
redis_count per_resource dump
redis-cli -p "$REDIS_PORT" info commandstats >"$TMP/commandstats.1"
RATE_ORDERED=${RATE[per_resource]}
[ -n "${CALLGRIND:-}" ] && callgrind_control -d ordered-run "$DISPATCHER_PID" >/dev/null
stop_perfs
if [ -n "${PROFILE:-}" ]; then
  redis-cli -p "$REDIS_PORT" config set slowlog-log-slower-than -1 >/dev/null
  redis-cli -p "$REDIS_PORT" --json slowlog get 1000000 >"$TMP/slowlog.json"
  python3 - "$TMP/slowlog.json" <<'EOF2'
import collections, json, re, sys
total = collections.defaultdict(lambda: [0, 0])
for _, _, us, args, client, _ in json.load(open(sys.argv[1])):
    cmd = args[0].upper()
    if cmd in ("EVALSHA", "EVAL") and len(args) > 3:
        name = "%s %s" % (cmd, re.sub(r"(?<=:)(we|apt|evt)_[A-Za-z0-9_]+", "*", args[3]))
    else:
        name = ("  in Lua: " if client == "?:0" else "") + cmd
    total[name][0] += 1
    total[name][1] += us
print("Redis over the ordered run (slow log at 0 us): calls, total ms, mean us")
for name, (n, us) in sorted(total.items(), key=lambda kv: -kv[1][1])[:25]:
    print("  %-60s %7d %8.1f %6.1f" % (name, n, us / 1000.0, us / n))
EOF2
fi
# Redis commands per ordered event (those run inside scripts counted as well): exact, so they
# compare across runs on a loaded host where the CPU figures do not.
COMMANDS=$(python3 - "$TMP/commandstats.0" "$TMP/commandstats.1" "$N" <<'EOF2'
import re, sys
def calls(path):
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"cmdstat_(\w+):calls=(\d+)", open(path).read())}
a, b, n = calls(sys.argv[1]), calls(sys.argv[2]), int(sys.argv[3])
d = {k: v - a.get(k, 0) for k, v in b.items() if v - a.get(k, 0) > 0 and k not in ("info", "config")}
inner = {k: v for k, v in d.items() if k not in ("evalsha", "eval")}
top = ", ".join("%s %.2f" % (k.upper(), v / n) for k, v in sorted(inner.items(), key=lambda kv: -kv[1])[:8])
print("%.2f per event (%s, ...), scripts %.2f" % (sum(inner.values()) / n, top, (d.get("evalsha", 0) + d.get("eval", 0)) / n))
EOF2
)
RETRIES=$(metric 'tresse_deliveries_total{outcome="retry_scheduled"}')
DEFERRED=$(metric 'tresse_deliveries_total{outcome="deferred"}')
# Redis's time in the scripts (the ordered queues' and the retry store's), over both runs.
SCRIPTS=$(redis-cli -p "$REDIS_PORT" info commandstats |
  awk -F'[:,=]' '/^cmdstat_(evalsha|eval):/ { calls += $3; usec += $5 } END { printf "%d calls, %.1f us each", calls, calls ? usec / calls : 0 }')
REDIS_IR=""
if [ -n "${REDIS_CALLGRIND:-}" ]; then
  # The dumps in order: *.1 the none run, *.2 the ordered run.
  REDIS_IR=$(python3 - "$(callgrind_totals "$REDIS_CALLGRIND/redis.callgrind.$REDIS_PID.1")" \
    "$(callgrind_totals "$REDIS_CALLGRIND/redis.callgrind.$REDIS_PID.2")" "$N" <<'EOF2'
import sys
none, ordered, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
print("\n  redis-server instructions per event (callgrind): none %.1f k, per_resource %.1f k"
      % (none / n / 1e3, ordered / n / 1e3))
EOF2
)
fi
cat <<EOF

Ordered delivery: $N events over $RESOURCES resources to one endpoint each way, endpoint_concurrency=$CONC, FEED=$FEED, build $BUILD
  ordering none           ${RATE_NONE}/s      CPU per event: ${CPU[none]}
  ordering per_resource   ${RATE_ORDERED}/s      CPU per event: ${CPU[per_resource]}
  ratio                   $(python3 -c "print('%.0f %%' % (100.0 * $RATE_ORDERED / $RATE_NONE))") of none   goal >= 50 %
  Redis commands over the ordered run: ${COMMANDS}
  retries scheduled ${RETRIES}, deferred ${DEFERRED} (both should be 0); Redis scripts: ${SCRIPTS}${REDIS_IR}
EOF
