#!/usr/bin/env bash
# build-sqlite.sh — compile better-sqlite3's native addon from the SQLite source it bundles.
#
# `npm ci --ignore-scripts` (how CI and the README install, because NodeGui's own install script
# needs the internet) skips better-sqlite3's install step, and that step would first try to
# download a prebuilt binary, which cannot be reached here. This compiles it with the node-gyp
# that npm ships, against this Node's headers. Idempotent: a loadable addon is kept (FORCE=1
# rebuilds). Needs python3, make and g++ (on every machine of this kind).
set -euo pipefail
cd "$(dirname "$0")/.."
PKG=node_modules/better-sqlite3
ADDON="$PKG/build/Release/better_sqlite3.node"
[ -f "$PKG/package.json" ] || { echo "[build-sqlite] missing $PKG: run 'npm ci --ignore-scripts' first" >&2; exit 1; }
probe() { node -e "const D=require('better-sqlite3');const d=new D(':memory:');process.stdout.write(d.prepare('select sqlite_version() v').get().v);d.close()" 2>/dev/null; }
if [ "${FORCE:-0}" != 1 ] && [ -f "$ADDON" ] && v=$(probe); then
  echo "[build-sqlite] better-sqlite3 $(node -p "require('./$PKG/package.json').version") already built (SQLite $v)"
  exit 0
fi
start=$(date +%s)
echo "[build-sqlite] compiling better-sqlite3 from its bundled SQLite source (about 1.5 min on 2 cores)"
(cd "$PKG" && npm run --silent build-release >/tmp/build-sqlite.log 2>&1) || { tail -n 30 /tmp/build-sqlite.log >&2; echo "[build-sqlite] ERROR: node-gyp build failed (log above)" >&2; exit 1; }
v=$(probe) || { echo "[build-sqlite] ERROR: the built addon does not load" >&2; exit 1; }
echo "[build-sqlite] built in $(( $(date +%s) - start )) s: SQLite $v"
