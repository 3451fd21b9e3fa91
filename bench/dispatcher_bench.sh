#!/usr/bin/env bash
# Dispatcher benchmark: delivery rate against wrk's ceiling on the same sink, publish-to-receive
# latency at half that rate, and the dispatcher's peak RSS (also with a backlog waiting).
# Builds nothing; see README.md ("Dispatcher") for the build command and recorded figures.
#
#   bench/dispatcher_bench.sh [BUILD_DIR]         (default build/release)
#   env: N=8000 CONC=10 WRK_SECS=10 LAT_SECS=10 BACKLOG=100000 (0 skips) MAX_SECS=900
#        KEEP=1 keeps the temp dir (logs); SETS="key=value ..." extra dispatcher settings (e.g. kafka.librdkafka.fetch.wait.max.ms=10)
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
CONC=${CONC:-10}
WRK_SECS=${WRK_SECS:-10}
LAT_SECS=${LAT_SECS:-10}
BACKLOG=${BACKLOG:-100000}
BUSINESS=biz_bench

DISPATCHER=$BUILD/dispatcher/tresse-dispatcher
WEBHOOK=$BUILD/receiver/cli/tresse-webhook
PUBLISH=$BUILD/common/tresse-publish
LAT_PUBLISH=$BUILD/bench/tresse-bench-latency-publish
for b in "$DISPATCHER" "$WEBHOOK" "$PUBLISH" "$LAT_PUBLISH"; do
  [ -x "$b" ] || { echo "missing $b (build it first, see bench/README.md)" >&2; exit 2; }
done
command -v wrk >/dev/null || { echo "wrk is not installed" >&2; exit 2; }

. "$(dirname "$0")/lib.sh"
delivered() { metric 'tresse_deliveries_total{outcome="delivered"}'; }
# wait_delivered TARGET SECONDS: polls /metrics until TARGET deliveries; prints the time.
wait_delivered() {
  local deadline=$(($(date +%s) + $2))
  while [ "$(delivered)" -lt "$1" ]; do
    [ "$(date +%s)" -lt "$deadline" ] || {
      echo "timed out: $(delivered)/$1 delivered" >&2
      return 1
    }
    sleep 0.02
  done
  now
}
kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$DISPATCHER_PID/status"; }
# start_sink PORT [listen options...]: a tresse-webhook sink verifying with the endpoint secret.
start_sink() {
  local port=$1
  shift
  "$WEBHOOK" listen --port "$port" --secret "$SECRET" "$@" &
  PIDS+=($!)
  wait_for 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port"
}
set_url() {
  "$DISPATCHER" endpoints update --redis "$REDIS" --id "$ENDPOINT" --url "$1" >/dev/null 2>&1
  sleep 1.5  # registry.refresh_interval is 500ms
}

# --- infrastructure ------------------------------------------------------------------------
start_redis

start_dev_broker

export TRESSE_LOG_LEVEL=error
"$DISPATCHER" endpoints create --redis "$REDIS" --business "$BUSINESS" \
  --url "http://127.0.0.1:1/" --events '*' >"$TMP/endpoint.json" 2>/dev/null
ENDPOINT=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$TMP/endpoint.json")
SECRET=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["secret"])' "$TMP/endpoint.json")

SINK_PORT=$(free_port)
start_sink "$SINK_PORT" --quiet
set_url "http://127.0.0.1:$SINK_PORT/"

start_dispatcher warn

# Warm-up: one event end to end (consumer group joined, endpoint loaded, connection open).
"$PUBLISH" --brokers "$BROKERS" --type appointment.created --business "$BUSINESS" >/dev/null
wait_delivered 1 60 >/dev/null

# --- 1. delivery rate ----------------------------------------------------------------------
base=$(delivered)
t0=$(now)
"$PUBLISH" --brokers "$BROKERS" --count "$N" --business "$BUSINESS" --timeout 120 \
  >/dev/null 2>"$TMP/publish.log" &
PIDS+=($!)
t1=$(wait_delivered $((base + N)) 120)
RATE=$(python3 -c "print(round($N / ($t1 - $t0)))")
HWM_RATE_KB=$(kb VmHWM)
CPU_S=$(awk '{ printf "%.1f", ($14 + $15) / 100 }' "/proc/$DISPATCHER_PID/stat")  # utime+stime
failed=$(metric 'tresse_deliveries_total{outcome="retry_scheduled"}')
ATTEMPT_MS=$(curl -sf "http://127.0.0.1:$ADMIN_PORT/metrics" | awk '
  $1 == "tresse_attempt_duration_seconds_sum" { s = $2 }
  $1 == "tresse_attempt_duration_seconds_count" { c = $2 }
  END { printf "%.2f", c ? 1000 * s / c : 0 }')

# --- 2. wrk ceiling: the same signed body, the same sink, CONC connections ------------------
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
"$WEBHOOK" sign --secret "$SECRET" --id evt_bench_wrk --timestamp "$(date +%s)" \
  --body-file "$TMP/body.json" >"$TMP/headers"
{
  echo 'wrk.method = "POST"'
  printf 'wrk.body = [==[%s]==]\n' "$(cat "$TMP/body.json")"
  echo 'wrk.headers["content-type"] = "application/json"'
  while IFS=': ' read -r name value; do
    printf 'wrk.headers["%s"] = "%s"\n' "$name" "$value"
  done <"$TMP/headers"
} >"$TMP/post.lua"
wrk -t2 -c"$CONC" -d"${WRK_SECS}s" --latency -s "$TMP/post.lua" \
  "http://127.0.0.1:$SINK_PORT/" >"$TMP/wrk.txt"
if grep -q "Non-2xx" "$TMP/wrk.txt"; then
  echo "wrk got non-2xx answers: the signed body was refused" >&2
  cat "$TMP/wrk.txt" >&2
  exit 1
fi
WRK_RATE=$(awk '/Requests\/sec/ { printf "%d", $2 }' "$TMP/wrk.txt")
WRK_P50=$(awk '$1 == "50%" { print $2 }' "$TMP/wrk.txt")
WRK_P99=$(awk '$1 == "99%" { print $2 }' "$TMP/wrk.txt")

# --- 3. publish-to-receive latency at half the measured rate --------------------------------
# A second sink prints one line per webhook; a reader stamps each line with the wall clock on
# arrival. The publisher prints the wall clock just after handing each event to librdkafka.
LAT_PORT=$(free_port)
stamp_lines "$TMP/lines" "$TMP/received.txt"
"$WEBHOOK" listen --port "$LAT_PORT" --secret "$SECRET" 2>/dev/null >"$TMP/lines" &
PIDS+=($!)
wait_for 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$LAT_PORT"
set_url "http://127.0.0.1:$LAT_PORT/"
LAT_RATE=$((RATE / 2))
LAT_N=$((LAT_RATE * LAT_SECS))
base=$(delivered)
"$LAT_PUBLISH" "$BROKERS" "$BUSINESS" "$LAT_N" "$LAT_RATE" >"$TMP/published.txt"
wait_delivered $((base + LAT_N)) 120 >/dev/null
sleep 0.5  # the last lines through the pipe
read -r LAT_P50 LAT_P99 LAT_MAX LAT_COUNT < <(python3 - "$TMP/published.txt" "$TMP/received.txt" <<'EOF'
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
HWM_BACKLOG_KB=n/a
PENDING=n/a
LAG=n/a
if [ "$BACKLOG" -gt 0 ]; then
  SLOW_PORT=$(free_port)
  start_sink "$SLOW_PORT" --quiet --delay-ms 1000
  set_url "http://127.0.0.1:$SLOW_PORT/"
  "$PUBLISH" --brokers "$BROKERS" --count "$BACKLOG" --business "$BUSINESS" --timeout 120 \
    >/dev/null 2>"$TMP/publish-backlog.log"
  sleep 10  # let the dispatcher take in what it will
  HWM_BACKLOG_KB=$(kb VmHWM)
  PENDING=$(metric tresse_records_pending)
  LAG=$(metric tresse_consumer_lag)
fi

# --- report --------------------------------------------------------------------------------
pct() { python3 -c "print('%.0f %%' % (100.0 * $1 / $2))"; }
mb() { [ "$1" = n/a ] && echo n/a || python3 -c "print('%.1f MB' % ($1 / 1024))"; }
cat <<EOF

Dispatcher benchmark: $N events, one endpoint, endpoint_concurrency=$CONC, build $BUILD
  delivery rate          $RATE/s   wrk ceiling $WRK_RATE/s (-t2 -c$CONC)   ratio $(pct "$RATE" "$WRK_RATE")   goal >= 50 %
  retries scheduled      $failed (should be 0); dispatcher CPU so far ${CPU_S} s; mean attempt ${ATTEMPT_MS} ms
  latency @ $LAT_RATE/s      p50 ${LAT_P50} ms  p99 ${LAT_P99} ms  max ${LAT_MAX} ms  ($LAT_COUNT events)   goal p99 <= 10 ms
    (wrk at saturation, sink only: p50 $WRK_P50  p99 $WRK_P99)
  peak RSS (rate run)    $(mb "$HWM_RATE_KB")
  peak RSS, backlog      $(mb "$HWM_BACKLOG_KB") after publishing $BACKLOG events to a 1 s sink (records pending $PENDING, consumer lag $LAG)   goal <= 150 MB
EOF
