#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian machine with Node 20 (as root),
# then lints, type-checks, builds and runs every test. The tests start and stop their own
# servers (nginx, ...) on loopback; nothing here listens on a public address.
set -euo pipefail
cd "$(dirname "$0")/.."

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
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; trap 'rm -f "$policy"' EXIT; fi
  apt-get update -qq
  # shellcheck disable=SC2046
  apt-get install -y -qq --no-install-recommends $(printf '%s\n' "${missing[@]}" | sort -u) >/dev/null
fi

npm ci --no-fund --no-audit
npm run lint
npm run typecheck

npm test
