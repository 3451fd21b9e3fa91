#!/usr/bin/env bash
# Makes a BUILD_DIR for the bench scripts' CALLGRIND=1: the binaries of a real build, except
# that `tresse-dispatcher run` starts under `valgrind --tool=callgrind` (instrumentation off
# until the bench script zeroes the counters, dumps into OUT/callgrind.out.*). Every other
# subcommand (endpoints create, dev-broker, ...) runs natively, so the setup stays fast.
#
#   bench/callgrind_build.sh [BUILD_DIR] [OUT]      (defaults build/release, /tmp/cg)
#   CALLGRIND=1 START_SECS=120 bench/dispatcher_bench.sh /tmp/cg
#   callgrind_annotate --inclusive=yes /tmp/cg/callgrind.out.*.1 | head -40
set -euo pipefail
BUILD=$(realpath "${1:-build/release}")
OUT=${2:-/tmp/cg}
mkdir -p "$OUT/dispatcher" "$OUT/receiver/cli" "$OUT/common" "$OUT/bench"
for b in receiver/cli/tresse-webhook common/tresse-publish bench/tresse-bench-latency-publish; do
  [ -x "$BUILD/$b" ] && ln -sf "$BUILD/$b" "$OUT/$b"
done
cat > "$OUT/dispatcher/tresse-dispatcher" <<WRAP
#!/bin/sh
if [ "\$1" = run ]; then
  exec valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.out.%p" \\
    --dump-instr=no --collect-atstart=yes "$BUILD/dispatcher/tresse-dispatcher" "\$@"
fi
exec "$BUILD/dispatcher/tresse-dispatcher" "\$@"
WRAP
chmod +x "$OUT/dispatcher/tresse-dispatcher"
echo "$OUT: tresse-dispatcher run under callgrind, the rest from $BUILD"
