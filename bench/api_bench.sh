#!/usr/bin/env bash
# Management API benchmark: GET and POST /v1/webhooks with wrk, authenticated and rate-limited
# (a limit high enough never to trip, so every request still counts in Redis), next to a
# baseline measured in the same run: wrk on the same HTTP server code without auth or Redis
# (the admin listener's /healthz). Builds nothing; see README.md ("Management API").
#
#   bench/api_bench.sh [BUILD_DIR]         (default build/release)
#   env: SECS=10 CONN=32 THREADS=4 (api.threads) ENDPOINTS=25 (listed per GET) KEEP=1
#        PERF=FILE records the dispatcher with `perf record -g` during the GET run only
#        CALLGRIND=1 with a BUILD_DIR whose tresse-dispatcher runs under callgrind (see
#        bench/README.md, "Where the time goes"): its counts are zeroed before the GET run and
#        dumped after it
set -euo pipefail

BUILD=${1:-build/release}
SECS=${SECS:-10}
CONN=${CONN:-32}
THREADS=${THREADS:-4}
ENDPOINTS=${ENDPOINTS:-25}
DISPATCHER=$BUILD/dispatcher/tresse-dispatcher
[ -x "$DISPATCHER" ] || { echo "missing $DISPATCHER (build it first)" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk is not installed" >&2; exit 2; }

. "$(dirname "$0")/lib.sh"

start_redis

API_PORT=$(free_port)
ADMIN_PORT=$(free_port)
# The API alone is measured: the in-process mock cluster (asked for, it is no default) is enough.
"$DISPATCHER" run --set kafka.brokers=embedded --set redis.url="$REDIS" \
  --set admin.listen="127.0.0.1:$ADMIN_PORT" \
  --set api.listen="127.0.0.1:$API_PORT" --set api.threads="$THREADS" \
  --set api.rate_limit_per_minute=1000000000 --set log.level=warn 2>"$TMP/dispatcher.log" &
DISPATCHER_PID=$!
PIDS+=($DISPATCHER_PID)
wait_for 60 curl -sf "http://127.0.0.1:$ADMIN_PORT/healthz"
wait_for 30 curl -s "http://127.0.0.1:$API_PORT/v1/openapi.json"

KEY=$("$DISPATCHER" keys create --redis "$REDIS" --business biz_bench --mode test |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')
for i in $(seq "$ENDPOINTS"); do
  curl -sf -o /dev/null "http://127.0.0.1:$API_PORT/v1/webhooks" -H "Authorization: Bearer $KEY" \
    -d "{\"url\":\"https://hooks.example.com/$i\",\"events\":[\"appointment.*\"]}"
done

cat >"$TMP/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"url":"https://hooks.example.com/bench","events":["appointment.*","client.created"]}'
wrk.headers["Authorization"] = "Bearer $KEY"
wrk.headers["content-type"] = "application/json"
LUA

# ticks PID: the process's user + system clock ticks so far.
ticks() { cpu_ticks "$1" | awk '{ print $1 + $2 }'; }
HZ=$(getconf CLK_TCK)
# run NAME URL [wrk args...]: writes "req/s p50 p99 dispatcher-us redis-us switches" to
# $TMP/NAME.row: the CPU each process spent per request (from /proc/PID/stat over the run: a
# figure that a busy machine moves less than req/s) and the dispatcher's context switches per
# request (all its threads). Exits on non-2xx answers.
run() {
  local name=$1 url=$2 d0 r0 d1 r1 c0 c1 rate p50 p99 n
  shift 2
  d0=$(ticks "$DISPATCHER_PID") r0=$(ticks "$REDIS_PID") c0=$(context_switches "$DISPATCHER_PID")
  wrk -t2 -c"$CONN" -d"${SECS}s" --latency "$@" "$url" >"$TMP/$name.txt"
  d1=$(ticks "$DISPATCHER_PID") r1=$(ticks "$REDIS_PID") c1=$(context_switches "$DISPATCHER_PID")
  wrk_result "$TMP/$name.txt" >"$TMP/$name.res" || exit 1
  read -r rate p50 p99 <"$TMP/$name.res"
  n=$(awk '/requests in/ { print $1 }' "$TMP/$name.txt")
  echo "$rate $p50 $p99 $(python3 -c "print(f'{($d1 - $d0) * 1e6 / $HZ / $n:.1f}', f'{($r1 - $r0) * 1e6 / $HZ / $n:.1f}', f'{($c1 - $c0) / $n:.2f}')")" >"$TMP/$name.row"
}

run healthz "http://127.0.0.1:$ADMIN_PORT/healthz"
read -r BASE BASE_P50 BASE_P99 BASE_CPU BASE_RCPU BASE_CS <"$TMP/healthz.row"
[ -z "${PERF:-}" ] || start_perf "$PERF" "$DISPATCHER_PID"
redis-cli -p "$REDIS_PORT" CONFIG RESETSTAT >/dev/null
[ -n "${CALLGRIND:-}" ] && callgrind_control -z "$DISPATCHER_PID" >/dev/null
run get "http://127.0.0.1:$API_PORT/v1/webhooks" -H "Authorization: Bearer $KEY"
[ -n "${CALLGRIND:-}" ] && callgrind_control -d get-run "$DISPATCHER_PID" >/dev/null
# What Redis spent per command during the GET run (usec_per_call), kept with KEEP=1.
redis-cli -p "$REDIS_PORT" INFO commandstats >"$TMP/get-commandstats.txt"
stop_perfs
read -r GET GET_P50 GET_P99 GET_CPU GET_RCPU GET_CS <"$TMP/get.row"
run post "http://127.0.0.1:$API_PORT/v1/webhooks" -s "$TMP/post.lua"
read -r POST POST_P50 POST_P99 POST_CPU POST_RCPU POST_CS <"$TMP/post.row"

ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
echo "Management API, wrk -t2 -c$CONN -d${SECS}s, api.threads=$THREADS, $ENDPOINTS endpoints per GET page"
row() { printf '%-47s %8s %9s %9s %6s %11s %9s %9s\n' "$@"; }
row "" "req/s" "p50" "p99" "ratio" "dispatcher" "redis" "switches"
row "baseline: GET /healthz (same server, no Redis)" "$BASE" "$BASE_P50" "$BASE_P99" "1.00" "$BASE_CPU µs" "$BASE_RCPU µs" "$BASE_CS"
row "GET /v1/webhooks (auth + rate limit + list)" "$GET" "$GET_P50" "$GET_P99" "$(ratio "$GET" "$BASE")" "$GET_CPU µs" "$GET_RCPU µs" "$GET_CS"
row "POST /v1/webhooks (auth + rate limit + create)" "$POST" "$POST_P50" "$POST_P99" "$(ratio "$POST" "$BASE")" "$POST_CPU µs" "$POST_RCPU µs" "$POST_CS"
echo "(dispatcher, redis: CPU per request, from /proc/PID/stat over the run; switches: the dispatcher's context switches per request)"
echo "redis during the GET run, per request: $(python3 - "$TMP/get-commandstats.txt" "$GET" "$SECS" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
stats = [(m[1], int(m[2]), int(m[3])) for m in re.finditer(r'cmdstat_([a-z|]+):calls=(\d+),usec=(\d+)', text)]
requests = max(1, int(sys.argv[2]) * int(sys.argv[3]))
print(', '.join(f'{name.upper()} {calls / requests:.2f} x {usec / max(calls, 1):.1f} µs'
                for name, calls, usec in sorted(stats, key=lambda s: -s[2])[:4]))
PY
)"
echo "goal: GET >= 10000 req/s"
