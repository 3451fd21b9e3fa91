#!/usr/bin/env bash
# The container image as shipped, end to end: builds deploy/container/Containerfile with podman,
# starts the image against a redis-server and a `tresse-dispatcher dev-broker` on this machine,
# and checks /readyz, the image's HEALTHCHECK and its user. Not part of scripts/test: the image
# compiles the whole project inside (~15 min on 2 cores).
#
#   deploy/container/smoke.sh [HOST_DISPATCHER]   (runs dev-broker; default build/dev/dispatcher/tresse-dispatcher)
#   env: TRESSE_IMAGE (default tresse/dispatcher:0.1.0), SKIP_BUILD=1 (use the image as it is)
#
# What it takes on a machine with no registry and podman 4.3 (Debian 12), as on the
# development VM:
# - debian:12 and debian:12-slim are not pullable: when absent, one base is made from Debian's
#   packages with mmdebstrap and imported under both names.
# - The build runs with `--isolation chroot --network host`: podman's default runtime (crun)
#   cannot set RLIMIT_NOFILE in this VM ("setrlimit RLIMIT_NOFILE: Operation not permitted").
# - The container runs with `--runtime runc --network host` and explicit ulimits: crun fails as
#   above, and runc fails to set podman's default limits ("error setting rlimit type 7" for
#   NOFILE, then "type 6" for NPROC, even at the host's own values: operation not permitted);
#   nofile at the shell's limits and nproc=4096 are accepted.
# - Podman logs "unable to get systemd connection to add healthchecks": PID 1 is not systemd, so
#   it cannot time the HEALTHCHECK; `podman healthcheck run` below runs it by hand.
set -euo pipefail
cd "$(dirname "$0")/../.."
image=${TRESSE_IMAGE:-tresse/dispatcher:0.1.0}
host_dispatcher=${1:-build/dev/dispatcher/tresse-dispatcher}
[ -x "$host_dispatcher" ] || { echo "smoke: no $host_dispatcher (build it, or pass one)" >&2; exit 2; }

if ! podman image exists docker.io/library/debian:12; then
  echo "==> debian:12 from Debian's packages (mmdebstrap), imported"
  base=$(mktemp --suffix=.tar)
  mmdebstrap --variant=apt --include=ca-certificates bookworm "$base"
  podman import "$base" docker.io/library/debian:12
  podman tag docker.io/library/debian:12 docker.io/library/debian:12-slim
  rm -f "$base"
fi
if [ -z "${SKIP_BUILD:-}" ]; then
  echo "==> podman build $image"
  podman build --isolation chroot --network host --pull=never --format docker \
    -f deploy/container/Containerfile -t "$image" .
fi

work=$(mktemp -d)
pids=()
cleanup() {
  podman rm -f tresse-smoke >/dev/null 2>&1 || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

redis_port=$(free_port)
admin_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no >/dev/null &
pids+=($!)
"$host_dispatcher" dev-broker --bootstrap-file "$work/brokers" >"$work/broker.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/brokers" ] && break; sleep 0.1; done
brokers=$(cat "$work/brokers")

echo "==> podman run $image (Kafka $brokers, Redis 127.0.0.1:$redis_port, admin :$admin_port)"
podman run -d --name tresse-smoke --runtime runc --network host \
  --ulimit "nofile=$(ulimit -Sn):$(ulimit -Hn)" --ulimit nproc=4096:4096 \
  -e TRESSE_KAFKA_BROKERS="$brokers" -e TRESSE_REDIS_URL="redis://127.0.0.1:$redis_port/0" \
  -e TRESSE_ADMIN_LISTEN="127.0.0.1:$admin_port" \
  -e TRESSE_REGISTRY_ENCRYPTION_KEY="$(openssl rand -base64 32)" "$image" >/dev/null

ready=""
for _ in $(seq 150); do
  if ready=$(curl -sf "http://127.0.0.1:$admin_port/readyz"); then break; fi
  ready=""
  sleep 0.2
done
if [ -z "$ready" ]; then
  echo "smoke: /readyz never answered 200; the container's log:" >&2
  podman logs tresse-smoke >&2 || true
  exit 1
fi
echo "    /readyz: $ready"
podman healthcheck run tresse-smoke && echo "    HEALTHCHECK (tresse-dispatcher healthcheck): healthy"
user=$(podman top tresse-smoke huser user | tail -n 1)
echo "    runs as: $user"
case "$user" in *root*) echo "smoke: the dispatcher runs as root" >&2; exit 1 ;; esac
echo "==> the image works: built, started, ready, healthy, not root"
