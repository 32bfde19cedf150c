#!/usr/bin/env bash
# check-bundle.sh [BUNDLE_DIR] — prove that the portable bundle (scripts/package-linux.sh) runs on
# its own Qt, not on the Debian Qt packages. Exit status 0 only if every check passes.
#
# Default bundle: release/peak-pressure-<version>-linux-x64.
#
# Proofs (CHECK_MODES, default "qt-hidden strict"), each in a private mount + network namespace
# (`unshare -m -n`, needs root; nothing changes outside the namespace, and no network at all):
#   qt-hidden  Debian's Qt is made unusable: an empty tmpfs over /usr/lib/x86_64-linux-gnu/qt6 and
#              /dev/null bind-mounted over every /usr/lib/x86_64-linux-gnu/libQt6* file. Negative
#              control: the repository's own addon (linked to the system Qt) must fail to load there.
#   strict     the whole of /usr/lib/x86_64-linux-gnu is replaced by a tmpfs holding only glibc's
#              libraries (and libtinfo, for bash), and /etc/fonts + /usr/share/fonts are hidden: a
#              machine with glibc and nothing else. Negative control: the system node cannot start.
# In each: the launcher runs with QT_QPA_PLATFORM=offscreen for ~8 s (must start, report DEGRADED
# because there is no network, stay alive and stop on SIGTERM), then /proc/<pid>/maps must show
# every libQt6*, the platform plugin, the addon and every other shared object coming from the
# bundle (only glibc/NSS may come from the host). Then `bin/node app/dist/cli.js replay <fixture>`
# and the peak-pressure-cli launcher run from the bundle with no node on PATH; their output must
# equal the system node's replay of the same bundled dist.
# If unshare is not permitted, the fallback "maps-only" proof runs the launcher without hiding
# anything and asserts the same maps rules (it says so in its output).
#
# Environment: CHECK_MODES, CHECK_SECONDS (default 8), KEEP_WORK=1 (keep logs), FIXTURE=<file>.
set -euo pipefail

SCRIPT_PATH=$(readlink -f "${BASH_SOURCE[0]}")
SCRIPT_DIR=${SCRIPT_PATH%/*}
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
LIBDIR=/usr/lib/x86_64-linux-gnu

log() { printf '[check-bundle] %s\n' "$*"; }

# ====================================================================== inside the namespace
# Runs as `unshare -m -n bash check-bundle.sh --inner MODE` (or directly for maps-only), with B,
# WORK, FIXTURE, REPO_ADDON in the environment. Writes its observations to $WORK/$MODE/; the outer
# script judges them. After hiding libraries only bash builtins and libc-only tools (sleep, cat,
# readlink, env) are used.
# run_app LABEL VAR=VALUE... — start the launcher, sample it after CHECK_SECONDS, stop it.
# Leaves $d/LABEL.{log,exe,maps,alive,exit,stop} for the judge.
run_app() {
  local label=$1 pid i alive=0 rc=0
  shift
  env -i "HOME=$d/home" "XDG_RUNTIME_DIR=$d/xdg" "PATH=$WORK/pathbin" LANG=C.UTF-8 "$@" \
    "$B/peak-pressure" > "$d/$label.log" 2>&1 &
  pid=$!
  for ((i = 0; i < CHECK_SECONDS * 2; i++)); do
    sleep 0.5
    kill -0 "$pid" 2>/dev/null || break
  done
  if kill -0 "$pid" 2>/dev/null; then
    alive=1
    readlink "/proc/$pid/exe" > "$d/$label.exe" || true
    cat "/proc/$pid/maps" > "$d/$label.maps" || true
    kill -TERM "$pid"
    for ((i = 0; i < 30; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then echo hung > "$d/$label.stop"; kill -KILL "$pid"; fi
  fi
  wait "$pid" || rc=$?
  echo "$alive" > "$d/$label.alive"
  echo "$rc" > "$d/$label.exit"
}

inner() {
  local mode=$1 rc
  d="$WORK/$1"
  mkdir -p "$d/home" "$d/xdg" "$d/cwd"
  chmod 700 "$d/xdg"
  : > "$d/hidden.txt"
  shopt -s nullglob

  case "$mode" in
    qt-hidden|strict) mount --make-rprivate / ;;
  esac

  case "$mode" in
    qt-hidden)
      mount -t tmpfs -o ro tmpfs "$LIBDIR/qt6"
      local f n=0
      for f in "$LIBDIR"/libQt6*; do
        [ -L "$f" ] && continue      # symlinks then point at a hidden file
        mount --bind /dev/null "$f"
        n=$((n + 1))
      done
      echo "hid $n libQt6* files with /dev/null and $LIBDIR/qt6 with an empty tmpfs" >> "$d/hidden.txt"
      ;;
    strict)
      local keep="$d/libkeep" f base
      mkdir -p "$keep"
      mount -t tmpfs tmpfs "$keep"
      # glibc itself + what bash/env/sleep/cat/readlink need (libtinfo)
      local want=()
      for f in "$LIBDIR"/ld-linux-x86-64.so.2 "$LIBDIR"/libc.so.6 "$LIBDIR"/libm.so.6 "$LIBDIR"/libdl.so.2 \
               "$LIBDIR"/libpthread.so.0 "$LIBDIR"/librt.so.1 "$LIBDIR"/libresolv.so.2 "$LIBDIR"/libutil.so.1 \
               "$LIBDIR"/libanl.so.1 "$LIBDIR"/libmvec.so.1 "$LIBDIR"/libnss_*.so.2; do
        want+=("$f")
      done
      while read -r base; do want+=("$base"); done < <(
        ldd /bin/bash /usr/bin/env /bin/sleep /bin/cat /usr/bin/readlink | sed -n 's/.*=> \(\/[^ ]*\).*/\1/p' | sort -u)
      for f in "${want[@]}"; do
        if [ -e "$f" ]; then cp -L "$f" "$keep/${f##*/}"; fi
      done
      for f in /usr/local/lib /etc/fonts /usr/share/fonts /usr/local/share/fonts; do
        if [ -d "$f" ]; then mount -t tmpfs -o ro tmpfs "$f"; fi
      done
      # Last: from here on, only bash builtins and libc-only programs can run.
      mount --bind "$keep" "$LIBDIR"
      local left=("$LIBDIR"/*)
      echo "replaced $LIBDIR by a tmpfs holding only: ${left[*]##*/}" >> "$d/hidden.txt"
      echo "hid /usr/local/lib, /etc/fonts, /usr/share/fonts" >> "$d/hidden.txt"
      ;;
  esac

  # Evidence that the system Qt is really gone (bash builtins only).
  if [ "$mode" != maps-only ]; then
    local q=("$LIBDIR"/qt6/*) core="$LIBDIR/libQt6Core.so.6"
    if [ -s "$core" ]; then echo "FAIL: $core still readable" >> "$d/hidden.txt"; else echo "ok: $core is gone or empty" >> "$d/hidden.txt"; fi
    if [ "${#q[@]}" -eq 0 ]; then echo "ok: $LIBDIR/qt6 is empty" >> "$d/hidden.txt"; else echo "FAIL: $LIBDIR/qt6 still has ${#q[@]} entries" >> "$d/hidden.txt"; fi
  fi

  # Negative controls: what the host would run must fail here.
  rc=0
  case "$mode" in
    qt-hidden)
      if [ -n "${REPO_ADDON:-}" ] && [ -f "$REPO_ADDON" ] && [ -x /usr/bin/node ]; then
        env -i PATH=/usr/bin:/bin /usr/bin/node -e "require(process.argv[1])" "$REPO_ADDON" > "$d/negative.txt" 2>&1 || rc=$?
        echo "exit=$rc" >> "$d/negative.txt"
      fi
      ;;
    strict)
      if [ -x /usr/bin/node ]; then
        env -i /usr/bin/node --version > "$d/negative.txt" 2>&1 || rc=$?
        echo "exit=$rc" >> "$d/negative.txt"
      fi
      ;;
  esac

  # The app, through its launcher, with no node on PATH: offscreen, then on X11 when a display
  # (a private Xvfb started by the outer script) is available.
  cd "$d/cwd"
  run_app offscreen QT_QPA_PLATFORM=offscreen
  if [ -n "${XCB_DISPLAY:-}" ]; then
    run_app xcb "DISPLAY=$XCB_DISPLAY"
  fi

  # Headless path: bundled node, bundled dist, no node on PATH.
  rc=0
  env -i "HOME=$d/home" "PATH=$WORK/pathbin" LANG=C.UTF-8 "$B/bin/node" "$B/app/dist/cli.js" replay "$FIXTURE" > "$d/replay.txt" 2>&1 || rc=$?
  echo "$rc" > "$d/replay.rc"
  rc=0
  env -i "HOME=$d/home" "PATH=$WORK/pathbin" LANG=C.UTF-8 "$B/peak-pressure-cli" replay "$FIXTURE" > "$d/replay-launcher.txt" 2>&1 || rc=$?
  echo "$rc" > "$d/replay-launcher.rc"
  # The store's wasm driver from the bundle (what a Windows bundle, which carries no win32
  # better-sqlite3, runs on): a replay stored into a new file, then exported, with that driver.
  rc=0
  { env -i "HOME=$d/home" "PATH=$WORK/pathbin" LANG=C.UTF-8 PEAK_PRESSURE_STORE_DRIVER=wasm "$B/bin/node" "$B/app/dist/cli.js" replay --db "$d/wasm.db" "$FIXTURE" &&
    env -i "HOME=$d/home" "PATH=$WORK/pathbin" LANG=C.UTF-8 PEAK_PRESSURE_STORE_DRIVER=wasm "$B/bin/node" "$B/app/dist/cli.js" events --db "$d/wasm.db" --format csv > "$d/wasm-events.csv"; } > "$d/wasm.txt" 2>&1 || rc=$?
  echo "$rc" > "$d/wasm.rc"
}

if [ "${1:-}" = --inner ]; then
  inner "$2"
  exit 0
fi

# ====================================================================== outside: setup
VERSION=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$REPO/package.json" | head -n1)
B=${1:-$REPO/release/peak-pressure-$VERSION-linux-x64}
[ -d "$B" ] || { log "FAIL: no bundle at $B — run 'npm run package' first"; exit 1; }
B=$(cd "$B" && pwd)
for f in peak-pressure peak-pressure-cli bin/node app/dist/main.js app/dist/cli.js; do
  [ -e "$B/$f" ] || { log "FAIL: $B/$f missing"; exit 1; }
done
FIXTURE=${FIXTURE:-$(ls "$REPO"/test/fixtures/*_first70s.gz 2>/dev/null | head -n1 || true)}
[ -f "$FIXTURE" ] || { log "FAIL: no fixture test/fixtures/*_first70s.gz (set FIXTURE=)"; exit 1; }
CHECK_SECONDS=${CHECK_SECONDS:-8}
CHECK_MODES=${CHECK_MODES:-qt-hidden strict}
REPO_ADDON="$REPO/node_modules/@nodegui/nodegui/build/Release/nodegui_core.node"

WORK=$(mktemp -d /tmp/check-bundle.XXXXXX)
FAILED=0
XVFB_PID=""
cleanup() {
  if [ -n "${XVFB_PID:-}" ]; then kill "$XVFB_PID" 2>/dev/null || true; fi
  if [ "${KEEP_WORK:-0}" = 1 ] || [ "$FAILED" != 0 ]; then log "logs kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
mkdir -p "$WORK/pathbin"
for t in bash env readlink; do ln -s "$(command -v "$t")" "$WORK/pathbin/$t"; done
export B WORK FIXTURE CHECK_SECONDS REPO_ADDON

fail() { log "FAIL: $*"; FAILED=1; }
ok() { log "ok: $*"; }

# Which proof can run here?
if [ "$(id -u)" -eq 0 ] && unshare -m -n true 2>/dev/null; then
  MODES=$CHECK_MODES
else
  MODES=maps-only
  log "unshare -m -n is not permitted here (needs root / user namespaces): falling back to the maps-only proof"
fi

# A private X server for the xcb run (optional: only when Xvfb is installed; CHECK_XCB=0 skips).
XCB_DISPLAY=""
XVFB_PID=""
if [ "${CHECK_XCB:-1}" != 0 ] && command -v Xvfb >/dev/null; then
  Xvfb -displayfd 5 -screen 0 1280x800x24 -nolisten tcp 5>"$WORK/xvfb.display" >"$WORK/xvfb.log" 2>&1 &
  XVFB_PID=$!
  for _ in $(seq 1 50); do [ -s "$WORK/xvfb.display" ] && break; sleep 0.1; done
  if [ -s "$WORK/xvfb.display" ]; then XCB_DISPLAY=":$(head -n1 "$WORK/xvfb.display")"; else
    log "Xvfb did not start; skipping the xcb run"; kill "$XVFB_PID" 2>/dev/null || true; XVFB_PID=""; fi
else
  log "Xvfb not installed (or CHECK_XCB=0): only the offscreen platform is exercised"
fi
export XCB_DISPLAY

# Reference replay: the system node running the bundle's own dist (same code, host runtime).
REF=""
if command -v node >/dev/null; then
  mkdir -p "$WORK/ref"
  (cd "$WORK/ref" && node "$B/app/dist/cli.js" replay "$FIXTURE" > "$WORK/ref/replay.txt" 2>&1) && REF="$WORK/ref/replay.txt"
fi

glibc_or_nss() {
  case "$1" in
    ld-linux*.so*|libc.so*|libm.so*|libdl.so*|libpthread.so*|librt.so*|libresolv.so*|libutil.so*|\
    libanl.so*|libmvec.so*|libnsl.so*|libnss_*|libBrokenLocale.so*|libthread_db.so*) return 0 ;;
  esac
  return 1
}

# judge_app MODE LABEL — the window app's run LABEL (offscreen | xcb) in proof MODE.
judge_app() {
  local mode=$1 label=$2 d="$WORK/$1" what="$1/$2" f
  local alive exitc
  alive=$(cat "$d/$label.alive" 2>/dev/null || echo 0)
  exitc=$(cat "$d/$label.exit" 2>/dev/null || echo '?')
  case "$label" in
    offscreen) log "  [$label] launcher with QT_QPA_PLATFORM=offscreen, no node on PATH" ;;
    xcb) log "  [$label] launcher on X11 (private Xvfb $XCB_DISPLAY), no node on PATH" ;;
  esac
  if [ "$alive" = 1 ]; then ok "$what: alive after ${CHECK_SECONDS}s"; else
    fail "$what: the app exited early (exit $exitc); log:"; tail -n 20 "$d/$label.log" | sed 's/^/    /'; return 0; fi
  if [ -f "$d/$label.stop" ]; then fail "$what: did not stop within 15 s of SIGTERM"; else ok "$what: stopped on SIGTERM (exit $exitc)"; fi
  case "$exitc" in 132|134|136|139) fail "$what: crashed on shutdown (exit $exitc)" ;; esac
  if grep -q 'Window initialized' "$d/$label.log"; then ok "$what: window initialized"; else fail "$what: no 'Window initialized' in the log"; fi
  if [ "$mode" = maps-only ]; then
    f=$(grep -m1 -o -E 'health [A-Z_]+( \([A-Z_]*\))?' "$d/$label.log" || true)
    log "  $what: network not controlled in this mode; first health line: ${f:-none}"
  elif grep -q 'health DEGRADED' "$d/$label.log"; then
    ok "$what: no network -> $(grep -m1 -o 'health DEGRADED ([A-Z_]*)' "$d/$label.log")"
  else
    fail "$what: no DEGRADED state in the log"
  fi
  if grep -qiE 'could not (find|load) the Qt platform plugin|Fontconfig error|Segmentation fault|Aborted' "$d/$label.log"; then
    fail "$what: Qt/fontconfig trouble in the log:"
    grep -iE 'platform plugin|Fontconfig|Segmentation|Aborted' "$d/$label.log" | head -n 5 | sed 's/^/    /'
  fi

  # -- /proc/<pid>/maps
  local exe qt_total=0 qt_bad=0 foreign=() plugins="" addon="" p base host
  exe=$(cat "$d/$label.exe" 2>/dev/null || true)
  if [ "$exe" = "$B/bin/node" ]; then ok "$what: /proc/<pid>/exe = $exe"; else fail "$what: process executable is '$exe', not $B/bin/node"; fi
  while read -r p; do
    base=${p##*/}
    case "$base" in libQt6*)
      qt_total=$((qt_total + 1))
      case "$p" in "$B"/lib/*) ;; *) qt_bad=$((qt_bad + 1)); fail "$what: $p is not from the bundle" ;; esac ;;
    esac
    case "$p" in
      "$B"/plugins/*) plugins+="${plugins:+ }${p#"$B"/plugins/}" ;;
      */plugins/*|*/qt6/*) fail "$what: Qt plugin from outside the bundle: $p" ;;
    esac
    case "$p" in "$B"/*nodegui_core.node) addon=${p#"$B"/} ;; esac
    case "$p" in
      "$B"/*) ;;
      *.so|*.so.*|*.node) glibc_or_nss "$base" || foreign+=("$p") ;;
    esac
  done < <(awk '$6 ~ /^\// {print $6}' "$d/$label.maps" | sort -u)
  if [ "$qt_total" -gt 0 ] && [ "$qt_bad" = 0 ]; then
    ok "$what: all $qt_total mapped libQt6* are in the bundle's lib/: $(awk '$6 ~ /libQt6/ {n=$6; sub(/.*\//, "", n); print n}' "$d/$label.maps" | sort -u | tr '\n' ' ')"
  elif [ "$qt_total" = 0 ]; then
    fail "$what: no libQt6* mapped at all"
  fi
  case " $plugins " in
    *" platforms/libq$label.so "*) ok "$what: Qt plugins mapped, all from the bundle's plugins/: $plugins" ;;
    *) fail "$what: platform plugin libq$label.so not mapped from the bundle (plugins: ${plugins:-none})" ;;
  esac
  if [ -n "$addon" ]; then ok "$what: addon mapped from the bundle: $addon"; else fail "$what: the NodeGui addon is not mapped from the bundle"; fi
  host=$(awk '$6 ~ /^\// {print $6}' "$d/$label.maps" | sort -u | grep -v "^$B/" | grep -E '\.so' | sed 's/.*\///' | tr '\n' ' ' || true)
  if [ "${#foreign[@]}" -eq 0 ]; then
    ok "$what: shared objects from outside the bundle: only glibc ($host)"
  else
    fail "$what: shared objects mapped from outside the bundle: ${foreign[*]}"
  fi
  f=$(awk '$6 ~ /\.(ttf|otf|pfb)$/ {print $6}' "$d/$label.maps" | sort -u | tr '\n' ' ')
  if [ -n "$f" ]; then log "  $what: fonts mapped: $f"; fi
  return 0
}

# ====================================================================== judge one mode
judge() {
  local mode=$1 d="$WORK/$1"
  log "---- proof: $mode"
  [ -s "$d/hidden.txt" ] && sed 's/^/[check-bundle]   /' "$d/hidden.txt"
  if grep -q '^FAIL' "$d/hidden.txt" 2>/dev/null; then fail "$mode: the system Qt was not hidden"; fi

  if [ -f "$d/negative.txt" ]; then
    local nrc
    nrc=$(sed -n 's/^exit=//p' "$d/negative.txt")
    if [ "$nrc" != 0 ]; then
      ok "negative control failed as expected (exit $nrc): $(grep -v '^exit=' "$d/negative.txt" | grep -m1 -o -E '[^ ]*(cannot open shared object|file too short|invalid ELF|error while loading)[^"]*' || head -n1 "$d/negative.txt")"
    else
      fail "$mode: negative control unexpectedly succeeded (the host's Qt/node is still usable here)"
    fi
  fi

  judge_app "$mode" offscreen
  if [ -n "${XCB_DISPLAY:-}" ]; then judge_app "$mode" xcb; fi

  # -- headless replay from the bundle
  local which
  for which in replay replay-launcher; do
    if [ "$(cat "$d/$which.rc")" != 0 ]; then
      fail "$mode: $which exited $(cat "$d/$which.rc"):"; tail -n 5 "$d/$which.txt" | sed 's/^/    /'; continue
    fi
    if [ -n "$REF" ]; then
      if diff <(sed "s#$WORK/[a-z-]*/cwd#<cwd>#; s#$WORK/ref#<cwd>#" "$REF") <(sed "s#$WORK/[a-z-]*/cwd#<cwd>#" "$d/$which.txt") > "$d/$which.diff"; then
        ok "$which from the bundle (no node on PATH): exit 0, output identical to the system node's — $(head -n1 "$d/$which.txt")"
      else
        fail "$mode: $which output differs from the system node's:"; head -n 10 "$d/$which.diff" | sed 's/^/    /'
      fi
    else
      grep -q '^Replayed' "$d/$which.txt" && ok "$which: $(head -n1 "$d/$which.txt")" || fail "$mode: $which printed no summary"
    fi
  done

  # -- the store on its wasm driver from the bundle; the system node's native driver reads the same file
  if [ "$(cat "$d/wasm.rc")" != 0 ]; then
    fail "$mode: replay --db / events with PEAK_PRESSURE_STORE_DRIVER=wasm exited $(cat "$d/wasm.rc"):"; tail -n 5 "$d/wasm.txt" | sed 's/^/    /'
  elif command -v node >/dev/null; then
    if node "$B/app/dist/cli.js" events --db "$d/wasm.db" --format csv 2>/dev/null | cmp -s - "$d/wasm-events.csv"; then
      ok "store on the wasm driver from the bundle: replay --db and events export; the native driver exports the same file identically ($(($(wc -l < "$d/wasm-events.csv") - 1)) events)"
    else
      fail "$mode: the native export of the wasm-written store differs from the wasm export"
    fi
  else
    ok "store on the wasm driver from the bundle: replay --db and events export"
  fi
}

# ====================================================================== run
WASM_FILE=$B/app/node_modules/node-sqlite3-wasm/dist/node-sqlite3-wasm.wasm
if [ -s "$WASM_FILE" ]; then ok "the bundle carries the store's wasm SQLite ($(du -h "$WASM_FILE" | cut -f1), ${WASM_FILE#"$B"/})"; else fail "the bundle lacks ${WASM_FILE#"$B"/}: the store has no driver where better-sqlite3 cannot load"; fi
PROOF=""
for mode in $MODES; do
  case "$mode" in
    qt-hidden|strict)
      unshare -m -n bash "$SCRIPT_PATH" --inner "$mode" || fail "$mode: the namespace run itself failed"
      PROOF+="${PROOF:+ + }$mode (unshare -m -n)" ;;
    maps-only)
      bash "$SCRIPT_PATH" --inner maps-only || fail "maps-only run failed"
      PROOF+="${PROOF:+ + }maps-only (no namespace: system Qt still present, only the maps show it unused)" ;;
    *) fail "unknown mode $mode"; continue ;;
  esac
  judge "$mode"
done

log "bundle: $B ($(du -sh "$B" | cut -f1))"
log "proof used: $PROOF"
if [ "$FAILED" = 0 ]; then log "RESULT: PASS"; else log "RESULT: FAIL"; exit 1; fi
