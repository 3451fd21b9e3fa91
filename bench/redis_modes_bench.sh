#!/usr/bin/env bash
# The dispatcher benchmark (dispatcher_bench.sh) on three Redis set-ups, one after the other in
# one invocation, so that their figures are side by side from one state of a shared machine:
#   single   one redis-server (the default)
#   cluster  a local 3-primary Redis Cluster (REDIS_MODE=cluster, redis+cluster://)
#   wait     a primary and a replica; every hand-off ends with WAIT 1 (REPLICA=1)
# Prints each run's report and a table of the lines that compare. The ratio within one run is
# what counts: other processes load the machine (uptime is printed before and after).
#
#   bench/redis_modes_bench.sh [BUILD_DIR]        (default build/release)
#   env: ROUNDS=1 (each round runs the three modes in turn), MODES="single cluster wait", and
#        dispatcher_bench.sh's (N, E, CONC, ...; BACKLOG defaults to 0 here: no backlog part)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build/release}
ROUNDS=${ROUNDS:-1}
MODES=${MODES:-single cluster wait}
export BACKLOG=${BACKLOG:-0}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

echo "uptime before: $(uptime)"
for round in $(seq 1 "$ROUNDS"); do
  for mode in $MODES; do
    case "$mode" in
      single) env=() ;;
      cluster) env=(REDIS_MODE=cluster) ;;
      wait) env=(REPLICA=1) ;;
      *) echo "unknown mode $mode (single, cluster, wait)" >&2; exit 2 ;;
    esac
    echo "==> round $round: $mode"
    env "${env[@]}" bench/dispatcher_bench.sh "$BUILD" | tee "$OUT/$mode.$round.txt"
  done
done
echo "uptime after: $(uptime)"

# mode, round, then the figures each report line starts with.
echo
printf '%-8s %-5s %-44s %-18s %-18s %s\n' mode round "delivery rate (ratio of wrk's ceiling)" \
  "dispatcher CPU" "redis-server CPU" "latency p50 / p99"
for round in $(seq 1 "$ROUNDS"); do
  for mode in $MODES; do
    f="$OUT/$mode.$round.txt"
    rate=$(awk '/delivery rate/ { print $3, "(" $(NF-8) " %)" }' "$f")
    cpu=$(awk '/dispatcher CPU/ { print $3, $4 }' "$f")
    redis=$(awk '/redis-server CPU/ { print $3, $4 }' "$f")
    lat=$(awk '/latency @/ { print $5, "/", $8, "ms" }' "$f")
    printf '%-8s %-5s %-44s %-18s %-18s %s\n' "$mode" "$round" "$rate" "$cpu" "$redis" "$lat"
  done
done
echo "(cluster: redis-server CPU is its first node's, a third of the work)"
