#!/usr/bin/env bash
# `npm test`: make sure the Debian peers the interop tests drive are installed, then run
# every test on the pinned Node.js 24 with coverage. The test runner's exit code is ours.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Debian packages whose programs the tests run (sipp, kamailio + TLS/WebSocket modules, socat, ...).
REQUIRED_PACKAGES="sip-tester kamailio kamailio-tls-modules kamailio-websocket-modules socat dnsmasq openssl coturn chromium slapd ldap-utils baresip iproute2 nftables procps tshark nginx wrk"

missing_packages() {
  local pkg status
  for pkg in $REQUIRED_PACKAGES; do
    status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
    if [[ "$status" != "install ok installed" ]]; then
      printf '%s ' "$pkg"
    fi
  done
}

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "scripts/test.sh: dpkg-query not found; install these Debian packages by hand: $REQUIRED_PACKAGES" >&2
  exit 1
fi

missing="$(missing_packages)"
if [[ -n "$missing" ]]; then
  if [[ "$(id -u)" -ne 0 ]]; then
    echo "scripts/test.sh: missing Debian packages: $missing" >&2
    echo "  install them as root: apt-get install -y --no-install-recommends $missing" >&2
    exit 1
  fi
  echo "scripts/test.sh: installing missing Debian packages: $missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  # shellcheck disable=SC2086 # word splitting of the package list is intended
  apt-get install -y --no-install-recommends $missing
  missing="$(missing_packages)"
  if [[ -n "$missing" ]]; then
    echo "scripts/test.sh: still missing after apt-get: $missing" >&2
    exit 1
  fi
fi

# npm puts node_modules/.bin (the pinned Node.js 24 from the `node` package) first in PATH;
# prefer it explicitly so `bash scripts/test.sh` works outside npm too.
NODE="node"
if [[ -x node_modules/.bin/node ]]; then
  NODE="node_modules/.bin/node"
fi
node_version="$("$NODE" --version)"
node_major="${node_version#v}"
node_major="${node_major%%.*}"
if [[ "$node_major" -lt 22 ]]; then
  echo "scripts/test.sh: Node.js >= 22 required, $NODE is $node_version; run npm ci" >&2
  exit 1
fi
echo "scripts/test.sh: running tests on Node.js $node_version"

# Two cores: two test files at a time. Interop tests spawn sipp/kamailio/socat of their own,
# so more would only make timing-sensitive tests flaky.
status=0
"$NODE" --test \
  --test-concurrency=2 \
  --test-timeout=120000 \
  --experimental-test-coverage \
  --test-coverage-exclude='**/*.test.ts' \
  --test-coverage-exclude='node_modules/**' \
  --test-coverage-exclude='test/**' \
  --test-coverage-exclude='bench/**' \
  --test-reporter=spec \
  'src/**/*.test.ts' 'test/**/*.test.ts' 'bench/**/*.test.ts' || status=$?
exit "$status"
