# Shared by scripts/try, scripts/test and .ci/run: install what is missing, build.
# Sourced, not run.

# python3 runs the scripts' JSON helpers and, with python3-yaml, the deploy/monitoring checker;
# prometheus ships promtool, which the tests run on the alert rules and on a real /metrics (on a
# machine with systemd, the package also enables a prometheus.service that tresse does not need).
TRESSE_PACKAGES=(
  build-essential cmake ninja-build pkg-config ccache clang libclang-rt-14-dev
  libssl-dev libboost1.81-dev librdkafka-dev libhiredis-dev libjemalloc-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev redis-server wrk curl
  # the programs' command lines (CLI11, header-only) and their man pages, generated at build time
  libcli11-dev help2man
  # tests/deploy: the manifests as YAML (python3-yaml), the compose file by Compose's schema
  # (docker-compose), the alert rules and a real /metrics (promtool, in Debian's prometheus)
  python3 python3-yaml docker-compose prometheus
  # tests/console: the web console driven in a real browser (with puppeteer-core from npm)
  chromium
)

# Installs the Debian packages that are not installed yet (apt-get update only when needed).
ensure_packages() {
  local missing=()
  for p in "${TRESSE_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  # Node.js may come from elsewhere (with its own npm); Debian's nodejs+npm only when absent.
  command -v node >/dev/null 2>&1 || missing+=(nodejs)
  command -v npm >/dev/null 2>&1 || missing+=(npm)
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "==> installing: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# The npm packages the node-driven tests use: standardwebhooks, an independent Standard Webhooks
# implementation (tests/interop), and ajv + ajv-formats, which check Management API responses
# against dispatcher/api/openapi.json (tests/api), and puppeteer-core, which drives Debian's chromium
# through the web console (tests/console; it downloads no browser of its own).
ensure_interop_peer() {
  if [ -f tests/interop/package.json ] && [ ! -d tests/interop/node_modules/standardwebhooks ]; then
    echo "==> installing the standardwebhooks npm package (interop peer)"
    (cd tests/interop && npm ci --no-audit --no-fund --loglevel=error)
  fi
  if [ -f tests/api/package.json ] && [ ! -d tests/api/node_modules/ajv-formats ]; then
    echo "==> installing ajv and ajv-formats (API contract validator)"
    (cd tests/api && npm ci --no-audit --no-fund --loglevel=error)
  fi
  if [ -f tests/console/package.json ] && [ ! -d tests/console/node_modules/puppeteer-core ]; then
    echo "==> installing puppeteer-core (drives chromium in the console's browser test)"
    (cd tests/console && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

# Configures and builds a preset (default: dev) with two jobs.
build_preset() {
  local preset="${1:-dev}"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j2
}
