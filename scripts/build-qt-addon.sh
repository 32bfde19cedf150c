#!/usr/bin/env bash
# build-qt-addon.sh — build NodeGui's native addon offline against Debian's Qt 6 (Linux only).
#
# Background: /work/shared/docs/NODEGUI-OFFLINE.md. NodeGui's own install step downloads a mini Qt,
# a prebuilt addon and the qode runtime from the internet; here we install the npm packages with
# `npm install --ignore-scripts` / `npm ci --ignore-scripts` and then run this script, which:
#   1. installs the Debian build/runtime packages that are missing (apt-get, only if needed);
#   2. restores the addon from $QT_ADDON_CACHE if a matching copy is cached (optional);
#   3. otherwise compiles node_modules/@nodegui/nodegui/build/Release/nodegui_core.node with the
#      cmake-js that NodeGui depends on, QT_INSTALL_DIR=/usr and scripts/qode-shim.cpp compiled in
#      (so the addon loads under plain `node`, see the shim's comments);
#   4. verifies that the addon exports the qode symbols and prints a one-line summary.
# Idempotent: does nothing (but checks) when a good addon is already built. FORCE=1 rebuilds.
#
# Environment:
#   FORCE=1                 rebuild even if a good addon exists (ignores the cache on restore)
#   QT_ADDON_CACHE=<dir>    optional cache dir, keyed by nodegui version + Qt version + arch + shim
#   SKIP_APT=1              do not touch apt (fail later if something is missing)
#   CMAKE_BUILD_PARALLEL_LEVEL  defaults to $(nproc)
set -euo pipefail

START_TS=$(date +%s)
log() { printf '[build-qt-addon] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

case "$(uname -s)" in
  Linux) ;;
  *)
    echo "[build-qt-addon] $(uname -s) detected: this script is Linux-only (Debian Qt + plain node)." >&2
    echo "[build-qt-addon] On Windows/macOS use the standard 'npm install' (WITHOUT --ignore-scripts);" >&2
    echo "[build-qt-addon] NodeGui then downloads its Qt, prebuilt addon and the qode runtime itself." >&2
    exit 0
    ;;
esac

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$SCRIPT_DIR/.." && pwd)
SHIM="$SCRIPT_DIR/qode-shim.cpp"
NG_DIR="$REPO_DIR/node_modules/@nodegui/nodegui"
ADDON="$NG_DIR/build/Release/nodegui_core.node"

[ -f "$SHIM" ] || die "missing $SHIM"
[ -f "$NG_DIR/package.json" ] || die "missing $NG_DIR — run 'npm ci --ignore-scripts' (or npm install --ignore-scripts) first"
command -v node >/dev/null || die "node not found in PATH"

elapsed() { echo $(( $(date +%s) - START_TS )); }

# ---------------------------------------------------------------- 1. Debian packages
PKGS=(qt6-base-dev qt6-svg-dev libqt6svgwidgets6 libqt6svg6 qt6-qpa-plugins
      cmake ninja-build g++ make
      xvfb xauth imagemagick fonts-dejavu-core)

pkg_installed() {
  # "install ok installed" — dpkg -s alone also succeeds for removed-but-configured packages.
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'
}

MISSING=()
for p in "${PKGS[@]}"; do
  pkg_installed "$p" || MISSING+=("$p")
done

if [ "${#MISSING[@]}" -gt 0 ]; then
  if [ "${SKIP_APT:-0}" = "1" ]; then
    log "SKIP_APT=1 but these packages are missing: ${MISSING[*]}"
  else
    SUDO=()
    if [ "$(id -u)" -ne 0 ]; then
      command -v sudo >/dev/null || die "need root (or sudo) to install: ${MISSING[*]}"
      SUDO=(sudo)
    fi
    log "installing missing Debian packages: ${MISSING[*]}"
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${MISSING[@]}"
  fi
else
  log "Debian packages: all present"
fi

# ---------------------------------------------------------------- helpers
# The three symbols qode normally provides; the shim must define them inside the addon.
QODE_SYMS=(_ZN4qode9qode_argcE _ZN4qode9qode_argvE _ZN4qode19InjectCustomRunLoopEPFivE)

addon_ok() {
  local f=$1 defined s
  [ -s "$f" ] || return 1
  defined=$(nm -D --defined-only "$f" 2>/dev/null) || return 1
  for s in "${QODE_SYMS[@]}"; do
    grep -qw -- "$s" <<<"$defined" || return 1
  done
}

NG_VERSION=$(node -p "require('$NG_DIR/package.json').version")
QT_VERSION=$(dpkg-query -W -f='${Version}' libqt6core6 2>/dev/null || true)
[ -n "$QT_VERSION" ] || QT_VERSION=$(dpkg-query -W -f='${Version}' libqt6core6t64 2>/dev/null || echo unknown)
ARCH=$(uname -m)
SHIM_HASH=$(sha256sum "$SHIM" | cut -c1-12)
CACHE_KEY=$(printf 'nodegui-%s_qt-%s_%s_shim-%s' "$NG_VERSION" "$QT_VERSION" "$ARCH" "$SHIM_HASH" | tr -c 'A-Za-z0-9._+-' '_')

summary() { # $1 = what happened
  local size
  size=$(du -h "$ADDON" | cut -f1)
  echo "[build-qt-addon] OK: $1 — nodegui $NG_VERSION, Qt $QT_VERSION, $ARCH, addon $size, qode symbols present, $(elapsed)s elapsed"
}

save_to_cache() {
  [ -n "${QT_ADDON_CACHE:-}" ] || return 0
  local dir="$QT_ADDON_CACHE/$CACHE_KEY"
  if cmp -s "$ADDON" "$dir/nodegui_core.node"; then
    return 0
  fi
  if mkdir -p "$dir" && cp "$ADDON" "$dir/nodegui_core.node.tmp.$$" \
      && mv -f "$dir/nodegui_core.node.tmp.$$" "$dir/nodegui_core.node"; then
    log "cached addon in $dir"
  else
    log "warning: could not write cache $dir (ignored)"
    rm -f "$dir/nodegui_core.node.tmp.$$" 2>/dev/null || true
  fi
}

# ---------------------------------------------------------------- 2. already built?
if [ "${FORCE:-0}" != "1" ] && addon_ok "$ADDON"; then
  save_to_cache
  summary "addon already built (FORCE=1 to rebuild)"
  exit 0
fi

# ---------------------------------------------------------------- 2b. restore from cache
if [ "${FORCE:-0}" != "1" ] && [ -n "${QT_ADDON_CACHE:-}" ]; then
  CACHED="$QT_ADDON_CACHE/$CACHE_KEY/nodegui_core.node"
  if addon_ok "$CACHED"; then
    mkdir -p "$(dirname "$ADDON")"
    cp "$CACHED" "$ADDON.tmp.$$" && mv -f "$ADDON.tmp.$$" "$ADDON"
    if addon_ok "$ADDON"; then
      summary "restored from cache $QT_ADDON_CACHE/$CACHE_KEY"
      exit 0
    fi
    log "restored addon failed verification; compiling instead"
  else
    log "no usable cache entry $CACHE_KEY; compiling"
  fi
fi

# ---------------------------------------------------------------- 3. compile
CMAKE_JS=$(cd "$NG_DIR" && node -p "require.resolve('cmake-js/bin/cmake-js')" 2>/dev/null) \
  || die "cmake-js (a dependency of @nodegui/nodegui) not found — reinstall node_modules"
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}"
export QT_INSTALL_DIR=/usr

# cmake-js `compile` only configures when build/CMakeCache.txt is missing, so a stale build dir
# (configured without our shim, or elsewhere) would silently produce an addon without the qode
# symbols. Use `rebuild` (clean + configure + build) unless the cache matches; `compile` keeps
# an interrupted build incremental.
ACTION=compile
CACHE_TXT="$NG_DIR/build/CMakeCache.txt"
if [ "${FORCE:-0}" = "1" ]; then
  ACTION=rebuild
elif [ -f "$CACHE_TXT" ] && ! grep -qxF "CMAKE_JS_SRC:UNINITIALIZED=$SHIM" "$CACHE_TXT" \
     && ! grep -q "^CMAKE_JS_SRC:[A-Z]*=$SHIM\$" "$CACHE_TXT"; then
  log "existing build dir was configured differently; doing a clean rebuild"
  ACTION=rebuild
fi

log "cmake-js $ACTION (nodegui $NG_VERSION, Qt $QT_VERSION, QT_INSTALL_DIR=$QT_INSTALL_DIR, parallel $CMAKE_BUILD_PARALLEL_LEVEL) — takes several minutes"
(
  cd "$NG_DIR"
  node "$CMAKE_JS" "$ACTION" --CDCMAKE_JS_SRC="$SHIM"
)

# ---------------------------------------------------------------- 4. verify
addon_ok "$ADDON" || die "built $ADDON but it does not export the qode symbols (${QODE_SYMS[*]})"
save_to_cache
summary "compiled ($ACTION)"
