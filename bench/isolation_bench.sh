#!/usr/bin/env bash
# Endpoint isolation benchmark: GOOD healthy endpoints and BAD bad ones (black holes that accept
# the connection and never answer, or sinks answering after 10 s), one business each. Measures
# the healthy endpoints' first-attempt latency (publish to first arrival) at a paced rate and
# their throughput on a burst, alone (baseline: the bad share of the traffic goes to businesses
# without endpoints) and with the bad endpoints getting that share. Each phase runs on a stack of
# its own (Redis, broker, sinks, dispatcher), ROUNDS pairs in alternating order, so that neither
# phase inherits the other's state (see README.md, "Endpoint isolation", for why). Builds
# nothing; see README.md for the build command and recorded figures.
#
#   bench/isolation_bench.sh [BUILD_DIR]        (default build/release)
#   env: GOOD=90 BAD=10 BAD_MODE=hole|slow|ok|none (ok: a control, the "bad" sinks healthy;
#        none: an A/A control, both phases alone: the bench's own noise)
#        ROUNDS=3 (pairs of phases) RATE=450 (events/s to the healthy endpoints)
#        SECS=20 TP_N=6000 (burst to the healthy endpoints) CONC=10 MAX_SECS=900 KEEP=1
#        SETS="key=value ..." (extra dispatcher settings)
#        PHASE=alone|mixed runs one phase on its own stack (what each round calls)
set -euo pipefail

MAX_SECS=${MAX_SECS:-900}
if [ -z "${TRESSE_BENCH_TIMED:-}" ]; then
  TRESSE_BENCH_TIMED=1 exec timeout --foreground "$MAX_SECS" "$0" "$@"
fi

BUILD=${1:-build/release}
GOOD=${GOOD:-90}
BAD=${BAD:-10}
BAD_MODE=${BAD_MODE:-hole}
case "$BAD_MODE" in hole | slow | ok | none) ;; *) echo "BAD_MODE is hole, slow, ok or none, not $BAD_MODE" >&2; exit 2 ;; esac
ROUNDS=${ROUNDS:-3}
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

# --- the rounds: each phase a fresh stack of its own -----------------------------------------
# librdkafka's mock broker finds a fetch's offset by walking its partition's message sets
# from the head (rdkafka_mock.c, "FIXME: Maintain an index"), so its CPU grows with the log: on
# one stack the second of two identical phases cost the broker twice the first's CPU and showed
# a p99 1.5-1.7x the first's (BAD_MODE=none). A real broker indexes its log.
if [ -z "${PHASE:-}" ]; then
  for r in $(seq 1 "$ROUNDS"); do
    order="alone mixed"
    [ $((r % 2)) = 0 ] && order="mixed alone"
    for phase in $order; do
      PHASE=$phase LAT_OUT="$TMP/$r.$phase.lat" "$0" "$BUILD" >"$TMP/$r.$phase"
    done
  done
  python3 - "$TMP" "$ROUNDS" <<'EOF' >"$TMP/summary"
import statistics, sys
tmp, rounds = sys.argv[1], int(sys.argv[2])
def phase(r, name):
    vals = open("%s/%d.%s" % (tmp, r, name)).read().split()
    lat = sorted(float(x) for x in open("%s/%d.%s.lat" % (tmp, r, name)))
    return dict(p50=float(vals[0]), p99=float(vals[1]), n=int(vals[2]), tp=float(vals[3]),
                deferred=vals[4], open=vals[5], paused=vals[6], lat=lat)
rows = [(phase(r, "alone"), phase(r, "mixed")) for r in range(1, rounds + 1)]
q = lambda lat, p: lat[min(len(lat) - 1, int(p * len(lat)))]
for r, (a, m) in enumerate(rows, 1):
    print("  round %d (%s first): p50 %.2f -> %.2f ms, p99 %.2f -> %.2f ms (%.2f), "
          "burst %.0f -> %.0f/s (%.2f); mixed: %s deferred, %s circuits open, %s pauses"
          % (r, "alone" if r % 2 else "mixed", a["p50"], m["p50"], a["p99"], m["p99"],
             m["p99"] / a["p99"], a["tp"], m["tp"], m["tp"] / a["tp"], m["deferred"], m["open"],
             m["paused"]))
pa = sorted(x for a, _ in rows for x in a["lat"])
pm = sorted(x for _, m in rows for x in m["lat"])
ta = statistics.median(a["tp"] for a, _ in rows)
tm = statistics.median(m["tp"] for _, m in rows)
print("  all rounds pooled: p50 %.2f -> %.2f ms, p99 %.2f -> %.2f ms (%d and %d events)"
      % (q(pa, .5), q(pm, .5), q(pa, .99), q(pm, .99), len(pa), len(pm)))
print("  ratio              p99 %.2f (goal <= 1.2)   burst throughput %.2f (goal >= 0.9; medians %.0f -> %.0f/s)"
      % (q(pm, .99) / q(pa, .99), tm / ta, ta, tm))
EOF
  cat <<EOF

Endpoint isolation: $GOOD healthy endpoints + $BAD bad ($BAD_MODE), endpoint_concurrency=$CONC, build $BUILD
  $ROUNDS rounds of two phases, each on a fresh stack: alone (the bad share of the traffic to
  businesses without endpoints), mixed (to the bad endpoints). Healthy: $RATE/s for ${SECS}s,
  then a burst of $TP_N; the bad endpoints' share $((RATE * BAD / GOOD))/s alongside.
$(cat "$TMP/summary")
EOF
  exit 0
fi
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
  python3 - "$TMP/$name.published" "$TMP/received.txt" "${name}_lat_" "$TP_N" "$t0" "$t1" \
    "$LAT_OUT" <<'EOF'
import json, sys
published, received, prefix, tp_n, t0, t1 = sys.argv[1:7]
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
open(sys.argv[7], "w").write("".join("%.3f\n" % x for x in lat))
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
print("%.2f %.2f %d %.0f" % (q(0.50), q(0.99), len(lat), int(tp_n) / (float(t1) - float(t0))))
EOF
}

# One phase: its latency and burst figures, then what the bad endpoints did, on one line:
# "p50 p99 events throughput deferred circuits_open consumer_pauses".
with_bad=1
if [ "$PHASE" = alone ] || [ "$BAD_MODE" = none ]; then with_bad=0; fi
read -r P50 P99 N TP < <(run_phase "$PHASE" "$with_bad")
echo "$P50 $P99 $N $TP $(metric 'tresse_deliveries_total{outcome="deferred"}')" \
  "$(metric 'tresse_endpoints{state="circuit_open"}')" \
  "$(grep -c "kafka consumer paused" "$TMP/dispatcher.log" || true)"
