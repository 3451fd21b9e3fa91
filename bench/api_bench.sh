#!/usr/bin/env bash
# Management API benchmark: GET and POST /v1/webhooks with wrk, authenticated and rate-limited
# (a limit high enough never to trip, so every request still counts in Redis), next to a
# baseline measured in the same run: wrk on the same HTTP server code without auth or Redis
# (the admin listener's /healthz). Builds nothing; see README.md ("Management API").
#
#   bench/api_bench.sh [BUILD_DIR]         (default build/release)
#   env: SECS=10 CONN=32 THREADS=4 (api.threads) ENDPOINTS=25 (listed per GET) KEEP=1
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
PIDS+=($!)
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

# run NAME URL [wrk args...]: prints "req/s p50 p99", fails on non-2xx answers.
run() {
  local name=$1 url=$2
  shift 2
  wrk -t2 -c"$CONN" -d"${SECS}s" --latency "$@" "$url" >"$TMP/$name.txt"
  wrk_result "$TMP/$name.txt" || exit 1
}

read -r BASE BASE_P50 BASE_P99 < <(run healthz "http://127.0.0.1:$ADMIN_PORT/healthz")
read -r GET GET_P50 GET_P99 < <(run get "http://127.0.0.1:$API_PORT/v1/webhooks" \
  -H "Authorization: Bearer $KEY")
read -r POST POST_P50 POST_P99 < <(run post "http://127.0.0.1:$API_PORT/v1/webhooks" \
  -s "$TMP/post.lua")

ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
echo "Management API, wrk -t2 -c$CONN -d${SECS}s, api.threads=$THREADS, $ENDPOINTS endpoints per GET page"
printf '%-44s %10s %9s %9s %8s\n' "" "req/s" "p50" "p99" "ratio"
printf '%-44s %10s %9s %9s %8s\n' "baseline: GET /healthz (same server, no Redis)" "$BASE" "$BASE_P50" "$BASE_P99" "1.00"
printf '%-44s %10s %9s %9s %8s\n' "GET /v1/webhooks (auth + rate limit + list)" "$GET" "$GET_P50" "$GET_P99" "$(ratio "$GET" "$BASE")"
printf '%-44s %10s %9s %9s %8s\n' "POST /v1/webhooks (auth + rate limit + create)" "$POST" "$POST_P50" "$POST_P99" "$(ratio "$POST" "$BASE")"
echo "goal: GET >= 10000 req/s"
