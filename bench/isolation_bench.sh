#!/usr/bin/env bash
# Endpoint isolation benchmark: GOOD healthy endpoints and BAD bad ones (black holes that accept
# the connection and never answer, or sinks answering after 10 s), one business each. Measures
# the healthy endpoints' first-attempt latency (publish to first arrival) at a paced rate and
# their throughput on a burst, first alone (baseline: the bad share of the traffic goes to
# businesses without endpoints), then with the bad endpoints getting that share. Builds nothing; see README.md
# ("Endpoint isolation") for the build command and recorded figures.
#
#   bench/isolation_bench.sh [BUILD_DIR]        (default build/release)
#   env: GOOD=90 BAD=10 BAD_MODE=hole|slow|ok (ok: a control, the "bad" sinks healthy)
#        RATE=450 (events/s to the healthy endpoints)
#        SECS=20 TP_N=6000 (burst to the healthy endpoints) CONC=10 MAX_SECS=900 KEEP=1
#        SETS="key=value ..." (extra dispatcher settings)
set -euo pipefail

MAX_SECS=${MAX_SECS:-900}
if [ -z "${TRESSE_BENCH_TIMED:-}" ]; then
  TRESSE_BENCH_TIMED=1 exec timeout --foreground "$MAX_SECS" "$0" "$@"
fi

BUILD=${1:-build/release}
GOOD=${GOOD:-90}
BAD=${BAD:-10}
BAD_MODE=${BAD_MODE:-hole}
case "$BAD_MODE" in hole | slow | ok) ;; *) echo "BAD_MODE is hole, slow or ok, not $BAD_MODE" >&2; exit 2 ;; esac
RATE=${RATE:-450}
SECS=${SECS:-20}
TP_N=${TP_N:-6000}
CONC=${CONC:-10}

DISPATCHER=$BUILD/dispatcher/tresse-dispatcher
WEBHOOK=$BUILD/receiver/cli/tresse-webhook
LAT_PUBLISH=$BUILD/bench/tresse-bench-latency-publish
for b in "$DISPATCHER" "$WEBHOOK" "$LAT_PUBLISH"; do
  [ -x "$b" ] || { echo "missing $b (build it first, see bench/README.md)" >&2; exit 2; }
done

. "$(dirname "$0")/lib.sh"
received() { grep -c "\"id\":\"$1" "$TMP/received.txt" || true; }  # sink lines of ids PREFIX*
# wait_received PREFIX COUNT SECONDS: until COUNT sink lines of PREFIX; prints the time.
wait_received() {
  local deadline=$(($(date +%s) + $3))
  while [ "$(received "$1")" -lt "$2" ]; do
    [ "$(date +%s)" -lt "$deadline" ] || {
      echo "timed out: $(received "$1")/$2 of $1 received" >&2
      return 1
    }
    sleep 0.05
  done
  now
}

# --- infrastructure ------------------------------------------------------------------------
start_redis
start_dev_broker
export TRESSE_LOG_LEVEL=error

GOOD_PORT=$(free_port)
BAD_PORT=$(free_port)
GOOD_LIST=""
BAD_LIST=""
for i in $(seq 1 "$GOOD"); do
  "$DISPATCHER" endpoints create --redis "$REDIS" --business "biz_good$i" \
    --url "http://127.0.0.1:$GOOD_PORT/g$i" --events '*' >"$TMP/good_$i.json" 2>/dev/null
  GOOD_LIST+="${GOOD_LIST:+,}biz_good$i"
done
for i in $(seq 1 "$BAD"); do
  "$DISPATCHER" endpoints create --redis "$REDIS" --business "biz_bad$i" \
    --url "http://127.0.0.1:$BAD_PORT/b$i" --events '*' >"$TMP/bad_$i.json" 2>/dev/null
  BAD_LIST+="${BAD_LIST:+,}biz_bad$i"
done
NO_ENDPOINT_LIST=$(seq -f "biz_none%g" -s, 1 "$BAD")  # businesses with no endpoint
secrets() {  # --secret flags for the endpoints printed into files $TMP/<kind>_*.json
  python3 -c 'import json,sys; print(" ".join("--secret " + json.load(open(f))["secret"] for f in sys.argv[1:]))' "$TMP/$1"_*.json
}

# Healthy sink: one line per webhook into a pipe whose reader stamps each line on arrival.
stamp_lines "$TMP/lines" "$TMP/received.txt"
# shellcheck disable=SC2046
"$WEBHOOK" listen --port "$GOOD_PORT" $(secrets good) 2>/dev/null >"$TMP/lines" &
PIDS+=($!)
wait_for 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$GOOD_PORT"

# Bad sink: a black hole (accepts, never reads nor answers) or a sink answering after 10 s.
if [ "$BAD_MODE" = hole ]; then
  python3 -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(4096)
held = []
while True:
    c, _ = s.accept()
    held.append(c)
' "$BAD_PORT" &
  PIDS+=($!)
else
  # slow: answers after 10 s; ok: the control, a healthy sink answering at once (what the second
  # traffic costs by itself: another publisher, more deliveries; the ratio bad endpoints should
  # reach is this one's, not 1.0)
  delay=$([ "$BAD_MODE" = slow ] && echo 10000 || echo 0)
  # shellcheck disable=SC2046
  "$WEBHOOK" listen --port "$BAD_PORT" --quiet --delay-ms "$delay" $(secrets bad) \
    2>/dev/null &
  PIDS+=($!)
fi
wait_for 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$BAD_PORT"

start_dispatcher info

# Warm-up: one event per healthy endpoint (group joined, endpoints loaded, connections open).
"$LAT_PUBLISH" "$BROKERS" "$GOOD_LIST" "$GOOD" 1000 warm_ >/dev/null
wait_received warm_ "$GOOD" 120 >/dev/null

# run_phase NAME WITH_BAD: paced latency run, then a burst; prints "p50 p99 count throughput".
run_phase() {
  local name=$1 with_bad=$2 lat_n=$((RATE * SECS)) bad_pid=""
  # Both phases publish the bad share of the traffic, with the same processes at the same rates:
  # alone, to businesses without endpoints (consumed and dropped), so that the one difference
  # between the phases is the bad endpoints' deliveries, not a second publisher and more Kafka
  # traffic (which by themselves moved the p99 as much, BAD_MODE=ok showed). It starts 2 s
  # early, so that the healthy endpoints are measured against bad endpoints that are already
  # saturated (and a publisher's start-up is not in the figures).
  local targets=$NO_ENDPOINT_LIST
  [ "$with_bad" = 1 ] && targets=$BAD_LIST
  "$LAT_PUBLISH" "$BROKERS" "$targets" $(((SECS + 2) * RATE * BAD / GOOD)) \
    $((RATE * BAD / GOOD)) "${name}_badlat_" >/dev/null &
  bad_pid=$!
  sleep 2
  "$LAT_PUBLISH" "$BROKERS" "$GOOD_LIST" "$lat_n" "$RATE" "${name}_lat_" >"$TMP/$name.published"
  wait "$bad_pid"
  wait_received "${name}_lat_" "$lat_n" 300 >/dev/null
  local t0 t1
  "$LAT_PUBLISH" "$BROKERS" "$targets" $((TP_N * BAD / GOOD)) 1000000 "${name}_badtp_" \
    >/dev/null
  t0=$(now)
  "$LAT_PUBLISH" "$BROKERS" "$GOOD_LIST" "$TP_N" 1000000 "${name}_tp_" >/dev/null
  t1=$(wait_received "${name}_tp_" "$TP_N" 300)
  sleep 0.5
  python3 - "$TMP/$name.published" "$TMP/received.txt" "${name}_lat_" "$TP_N" "$t0" "$t1" <<'EOF'
import json, sys
published, received, prefix, tp_n, t0, t1 = sys.argv[1:]
sent = {}
for line in open(published):
    i, t = line.split()
    sent[i] = int(t)
first = {}
for line in open(received):
    t, _, j = line.partition(" ")
    try:
        r = json.loads(j)
    except ValueError:
        continue
    i = r.get("id", "")
    if r.get("outcome") == "valid" and i.startswith(prefix) and i not in first:
        first[i] = int(t)
lat = sorted((first[i] - sent[i]) / 1e6 for i in first if i in sent)
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
print("%.2f %.2f %d %.0f" % (q(0.50), q(0.99), len(lat), int(tp_n) / (float(t1) - float(t0))))
EOF
}

read -r B_P50 B_P99 B_N B_TP < <(run_phase base 0)
paused_before=$(grep -c "kafka consumer paused" "$TMP/dispatcher.log" || true)
read -r M_P50 M_P99 M_N M_TP < <(run_phase mixed 1)
paused=$(( $(grep -c "kafka consumer paused" "$TMP/dispatcher.log" || true) - paused_before ))
DEFERRED=$(metric 'tresse_deliveries_total{outcome="deferred"}')
OPEN=$(metric 'tresse_endpoints{state="circuit_open"}')
PENDING_MAX=n/a

ratio() { python3 -c "print('%.2f' % ($1 / $2))"; }
cat <<EOF

Endpoint isolation: $GOOD healthy endpoints + $BAD bad ($BAD_MODE), endpoint_concurrency=$CONC, build $BUILD
  phase                     first-attempt p50   p99         (events)   burst throughput ($TP_N events)
  alone (bad share dropped) ${B_P50} ms        ${B_P99} ms   ($B_N)     ${B_TP}/s
  with bad endpoints        ${M_P50} ms        ${M_P99} ms   ($M_N)     ${M_TP}/s
  ratio                     p99 $(ratio "$M_P99" "$B_P99") (goal <= 1.2)     throughput $(ratio "$M_TP" "$B_TP") (goal >= 0.9)
  healthy latency phase: $RATE/s for ${SECS}s; bad endpoints got $((RATE * BAD / GOOD))/s alongside
  deferred to the retry schedule without a request: $DEFERRED; circuits open at the end: $OPEN;
  consumer pauses (kafka.max_pending) during the mixed phase: $paused
EOF
