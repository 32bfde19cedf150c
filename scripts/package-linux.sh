#!/usr/bin/env bash
# package-linux.sh — assemble a self-contained Linux x64 folder + .tar.gz of the app.
#
#   npm run package        (= npm run build && bash scripts/package-linux.sh)
#
# Output: release/peak-pressure-<version>-linux-x64/ and release/peak-pressure-<version>-linux-x64.tar.gz
#
#   peak-pressure          launcher (bash): the native window  (bin/node app/dist/main.js "$@")
#   peak-pressure-cli      launcher (bash): the headless CLI   (bin/node app/dist/cli.js "$@")
#   bin/node               copy of the node binary that runs this script (RUNPATH $ORIGIN/../lib)
#   bin/qt.conf            Prefix=.. / Plugins=plugins: Qt finds the bundled plugins even without env
#   app/dist/              the webpack output (main.js, cli.js, worker.js, source maps)
#   app/node_modules/      the production dependency closure only (`npm ls --omit=dev --parseable
#                          --all`); of @nodegui/nodegui only package.json, LICENSE, dist/ and
#                          build/Release/nodegui_core.node
#   app/package.json       name, version, dependencies (no scripts, no devDependencies)
#   lib/                   every shared library that node, the addon and the bundled Qt plugins need
#                          (ldd, recursive; plus libXcursor, which the xcb plugin dlopen()s), except glibc's own libraries (libc, libm, libdl,
#                          libpthread, librt, ld-linux, libresolv, ...). libstdc++/libgcc_s and the
#                          vendor-neutral GL dispatch libraries (libglvnd: libEGL, libGLX, libOpenGL,
#                          libGLdispatch) ARE included: Qt links them, and a machine without libglvnd
#                          could not start the app otherwise. The actual GPU driver (libEGL_mesa,
#                          libGLX_nvidia, ...) is still the host's, loaded by libglvnd on demand.
#   plugins/               Qt plugins: platforms (offscreen, xcb), imageformats, iconengines,
#                          xcbglintegrations, platforminputcontexts
#   fonts/                 fallback fonts + fonts.conf, used by the launcher ONLY when the host has
#                          no /etc/fonts/fonts.conf (minimal containers); desktops use their own
#   licenses/              the Debian copyright files of every bundled library, Node's license
#   BUNDLE-INFO.txt        versions, commit, minimum glibc, sha256 of the bundled dist files
#
# RUNPATHs are rewritten with patchelf (installed with apt if missing, unless SKIP_APT=1) so that
# nothing in the bundle points into /usr/lib: lib/* -> $ORIGIN, plugins/*/* -> $ORIGIN/../../lib,
# the addon -> $ORIGIN/../../../../../../lib, bin/node -> $ORIGIN/../lib. The launcher also sets
# LD_LIBRARY_PATH=<bundle>/lib.
#
# Proof that it runs without Debian's Qt: scripts/check-bundle.sh.
#
# Environment: SKIP_APT=1 (never call apt), NO_TARBALL=1 (folder only).
set -euo pipefail

log() { printf '[package-linux] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(uname -s)" = Linux ] || die "Linux only (on Windows use the NodeGui packer, see README 'Windows portable executable')"
[ "$(uname -m)" = x86_64 ] || die "x86_64 only (found $(uname -m))"

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
cd "$REPO"

NODE_BIN=$(node -p 'process.execPath')
VERSION=$(node -p "require('./package.json').version")
NAME="peak-pressure-$VERSION-linux-x64"
OUT="$REPO/release"
B="$OUT/$NAME"
NG="node_modules/@nodegui/nodegui"
ADDON_REL="build/Release/nodegui_core.node"
QT_PLUGINS=/usr/lib/x86_64-linux-gnu/qt6/plugins
START_TS=$(date +%s)

for f in dist/main.js dist/cli.js dist/worker.js; do
  [ -f "$f" ] || die "missing $f — run 'npm run build' first (or use 'npm run package')"
done
[ -f "$NG/$ADDON_REL" ] || die "missing $NG/$ADDON_REL — run scripts/build-qt-addon.sh first"
[ -d "$QT_PLUGINS/platforms" ] || die "missing $QT_PLUGINS/platforms — install qt6-qpa-plugins (scripts/build-qt-addon.sh does)"
for t in ldd readelf objdump tar gzip sha256sum; do
  command -v "$t" >/dev/null || die "$t not found (binutils/coreutils)"
done

# ------------------------------------------------------------------ patchelf (optional but preferred)
HAVE_PATCHELF=1
if ! command -v patchelf >/dev/null; then
  if [ "${SKIP_APT:-0}" != 1 ] && [ "$(id -u)" -eq 0 ]; then
    log "installing patchelf (apt)"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends patchelf >/dev/null 2>&1; then
      DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 || true
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends patchelf >/dev/null 2>&1 || true
    fi
  fi
  command -v patchelf >/dev/null || { HAVE_PATCHELF=0; log "warning: patchelf unavailable — RUNPATHs left as built; the launcher's LD_LIBRARY_PATH still takes precedence"; }
fi

# ------------------------------------------------------------------ fresh folder
rm -rf "$B" "$OUT/$NAME.tar.gz"
mkdir -p "$B/bin" "$B/app" "$B/lib" "$B/plugins" "$B/licenses"

# ------------------------------------------------------------------ node + JS
cp -L "$NODE_BIN" "$B/bin/node"
chmod 755 "$B/bin/node"
cp -a dist "$B/app/dist"
rm -f "$B/app/dist/bench.js" "$B/app/dist/bench.js.map"   # dev-only benchmark entry

node -e '
  const p = require(process.argv[1]);
  const out = { name: p.name, version: p.version, private: true, description: p.description,
    license: p.license, main: "dist/main.js", engines: p.engines, dependencies: p.dependencies };
  require("fs").writeFileSync(process.argv[2], JSON.stringify(out, null, 2) + "\n");
' "$REPO/package.json" "$B/app/package.json"

# Production dependency closure. npm ls exits non-zero on harmless problems (extraneous packages),
# so judge by its output instead.
MODS=$(npm ls --omit=dev --parseable --all 2>/dev/null || true)
[ -n "$MODS" ] || die "npm ls --omit=dev --parseable --all printed nothing"
read -r -d '' COPY_JS <<'EOF' || true
const fs = require('fs');
const path = require('path');
const [repo, dest] = process.argv.slice(1);
const lines = process.env.MODS.split('\n').map((l) => l.trim()).filter(Boolean);
let n = 0;
for (const abs of lines) {
  const rel = path.relative(repo, abs);
  if (rel === '' || !rel.startsWith('node_modules' + path.sep)) continue;
  if (!fs.existsSync(abs)) continue; // optional dependency not installed on this platform
  const target = path.join(dest, rel);
  const nested = path.join(abs, 'node_modules');
  if (rel === path.join('node_modules', '@nodegui', 'nodegui')) {
    // The addon package: the JS API and the compiled addon, not its C++ sources or build tree.
    fs.mkdirSync(path.join(target, 'build', 'Release'), { recursive: true });
    for (const f of ['package.json', 'LICENSE', 'README.md']) {
      if (fs.existsSync(path.join(abs, f))) fs.copyFileSync(path.join(abs, f), path.join(target, f));
    }
    fs.cpSync(path.join(abs, 'dist'), path.join(target, 'dist'), { recursive: true });
    fs.copyFileSync(path.join(abs, 'build', 'Release', 'nodegui_core.node'), path.join(target, 'build', 'Release', 'nodegui_core.node'));
  } else {
    // Nested node_modules are listed by npm ls on their own lines (only the production ones).
    fs.cpSync(abs, target, { recursive: true, dereference: true, filter: (s) => s !== nested && !s.startsWith(nested + path.sep) });
  }
  n++;
}
process.stderr.write(`[package-linux] copied ${n} production packages into app/node_modules\n`);
EOF
MODS="$MODS" node -e "$COPY_JS" "$REPO" "$B/app"
# No bin links or build leftovers are needed at run time.
rm -rf "$B/app/node_modules/.bin" "$B/app/node_modules/.package-lock.json"
ADDON="$B/app/$NG/$ADDON_REL"

# ------------------------------------------------------------------ Qt plugins
for d in platforms imageformats iconengines xcbglintegrations platforminputcontexts; do
  [ -d "$QT_PLUGINS/$d" ] || { log "warning: no $QT_PLUGINS/$d"; continue; }
  mkdir -p "$B/plugins/$d"
  if [ "$d" = platforms ]; then
    for p in libqoffscreen.so libqxcb.so; do
      [ -f "$QT_PLUGINS/$d/$p" ] || die "missing $QT_PLUGINS/$d/$p"
      cp -L "$QT_PLUGINS/$d/$p" "$B/plugins/$d/"
    done
  else
    cp -L "$QT_PLUGINS/$d"/*.so "$B/plugins/$d/"
  fi
done

cat > "$B/bin/qt.conf" <<'EOF'
; Read by Qt from the executable's directory (bin/): resolve Qt paths inside the bundle,
; never in /usr/lib/x86_64-linux-gnu/qt6.
[Paths]
Prefix = ..
Plugins = plugins
EOF

# ------------------------------------------------------------------ shared libraries (ldd, recursive)
# glibc's own libraries come from the host: they must match its dynamic loader.
is_glibc_core() {
  case "$1" in
    linux-vdso.so*|ld-linux*.so*|libc.so*|libm.so*|libdl.so*|libpthread.so*|librt.so*|libresolv.so*|\
    libutil.so*|libanl.so*|libmvec.so*|libnsl.so*|libnss_*|libBrokenLocale.so*|libthread_db.so*|\
    libc_malloc_debug.so*|libmemusage.so*|libpcprofile.so*) return 0 ;;
  esac
  return 1
}

declare -A COPIED=()
# ldd already resolves the whole dependency tree of each object; running it on every bundled
# object (plugins included, which nothing links) covers what Qt dlopen()s through its plugins.
collect_deps() { # $@ = ELF files
  local f line soname path
  for f in "$@"; do
    while IFS= read -r line; do
      if [[ $line =~ ^[[:space:]]*([^[:space:]]+)[[:space:]]+=\>[[:space:]]+not\ found ]]; then
        die "$(basename "$f") needs ${BASH_REMATCH[1]}, which is not installed"
      fi
      [[ $line =~ ^[[:space:]]*([^[:space:]]+)[[:space:]]+=\>[[:space:]]+(/[^[:space:]]+) ]] || continue
      soname=${BASH_REMATCH[1]}
      path=${BASH_REMATCH[2]}
      is_glibc_core "$soname" && continue
      [ -n "${COPIED[$soname]:-}" ] && continue
      case "$path" in "$B"/*) COPIED[$soname]=bundled; continue ;; esac
      cp -L "$path" "$B/lib/$soname"
      chmod 644 "$B/lib/$soname"
      COPIED[$soname]=$(readlink -f "$path")
    done < <(LD_LIBRARY_PATH= ldd "$f")
  done
}
mapfile -t PLUGIN_FILES < <(find "$B/plugins" -name '*.so' -type f | sort)
collect_deps "$B/bin/node" "$ADDON" "${PLUGIN_FILES[@]}"
# Libraries Qt dlopen()s by name rather than links (invisible to ldd): the xcb plugin loads
# libXcursor for the desktop's cursor theme (it falls back to core cursors without it).
for soname in libXcursor.so.1; do
  src=/usr/lib/x86_64-linux-gnu/$soname
  if [ -e "$src" ]; then
    cp -L "$src" "$B/lib/$soname"; chmod 644 "$B/lib/$soname"
    COPIED[$soname]=$(readlink -f "$src")
    collect_deps "$src"
  else
    log "warning: $soname not installed (apt: libxcursor1) — not bundled; cursor themes fall back to X core cursors"
  fi
done
log "bundled ${#COPIED[@]} shared libraries into lib/"

# ------------------------------------------------------------------ RUNPATHs
if [ "$HAVE_PATCHELF" = 1 ]; then
  for l in "$B"/lib/*.so*; do patchelf --set-rpath '$ORIGIN' "$l"; done
  for p in "${PLUGIN_FILES[@]}"; do patchelf --set-rpath '$ORIGIN/../../lib' "$p"; done
  patchelf --set-rpath '$ORIGIN/../../../../../../lib' "$ADDON"
  # bin/node needs libstdc++/libgcc_s: with $ORIGIN/../lib it also runs without the launcher
  # (`bin/node app/dist/cli.js ...`) on a host that has no libstdc++.
  patchelf --set-rpath '$ORIGIN/../lib' "$B/bin/node"
  "$B/bin/node" --version >/dev/null || die "bin/node does not run after patchelf"
  log "RUNPATHs set (\$ORIGIN-relative); addon: $(patchelf --print-rpath "$ADDON")"
fi

# Verify: resolving with only the bundle's lib/ on the path, nothing may come from outside the
# bundle except glibc.
BAD=0
while IFS= read -r f; do
  while IFS= read -r line; do
    [[ $line =~ ^[[:space:]]*([^[:space:]]+)[[:space:]]+=\>[[:space:]]+([^[:space:]]+) ]] || continue
    is_glibc_core "${BASH_REMATCH[1]}" && continue
    case "${BASH_REMATCH[2]}" in
      "$B"/lib/*) ;;
      *) log "unresolved inside bundle: $(basename "$f") -> ${BASH_REMATCH[1]} => ${BASH_REMATCH[2]}"; BAD=1 ;;
    esac
  done < <(LD_LIBRARY_PATH="$B/lib" ldd "$f")
done < <(find "$B/lib" "$B/plugins" "$B/bin/node" "$ADDON" -type f \( -name '*.so*' -o -name '*.node' -o -name node \))
[ "$BAD" = 0 ] || die "some dependencies resolve outside the bundle"

# ------------------------------------------------------------------ fonts fallback
FONT_SRC=/usr/share/fonts/truetype/dejavu
if [ -f "$FONT_SRC/DejaVuSans.ttf" ]; then
  mkdir -p "$B/fonts"
  for f in DejaVuSans.ttf DejaVuSans-Bold.ttf DejaVuSansMono.ttf DejaVuSansMono-Bold.ttf; do
    [ -f "$FONT_SRC/$f" ] && cp -L "$FONT_SRC/$f" "$B/fonts/"
  done
  cat > "$B/fonts/fonts.conf" <<'EOF'
<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">
<!-- Used by the launcher only when the host has no /etc/fonts/fonts.conf. -->
<fontconfig>
  <dir prefix="relative">.</dir>
  <cachedir prefix="xdg">peak-pressure-fontconfig</cachedir>
  <alias><family>sans-serif</family><prefer><family>DejaVu Sans</family></prefer></alias>
  <alias><family>monospace</family><prefer><family>DejaVu Sans Mono</family></prefer></alias>
</fontconfig>
EOF
  [ -f /usr/share/doc/fonts-dejavu-core/copyright ] && cp /usr/share/doc/fonts-dejavu-core/copyright "$B/licenses/fonts-dejavu-core.copyright"
else
  log "warning: fonts-dejavu-core not installed — no fallback fonts (hosts without /etc/fonts will show no text)"
fi

# ------------------------------------------------------------------ launchers
write_launcher() { # $1 = file, $2 = entry (dist/main.js | dist/cli.js), $3 = description
  cat > "$1" <<EOF
#!/usr/bin/env bash
# $3 — Peak Pressure $VERSION portable bundle (linux-x64).
# Runs the bundled node with the bundled Qt; the host needs only glibc and, for a window, an X
# server (or XWayland). Extra arguments are passed to the app.
EOF
  cat >> "$1" <<'EOF'
set -e
self=${BASH_SOURCE[0]}
if command -v readlink >/dev/null 2>&1; then self=$(readlink -f -- "$self"); fi
case "$self" in */*) here=${self%/*} ;; *) here=. ;; esac
here=$(cd -- "$here" && pwd)

export LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export QT_PLUGIN_PATH="$here/plugins"
export QT_QPA_PLATFORM_PLUGIN_PATH="$here/plugins/platforms"
# Only the xcb and offscreen platform plugins are bundled: a desktop that asks for Wayland gets
# XWayland (xcb) instead of a "could not find the Qt platform plugin" abort.
case "${QT_QPA_PLATFORM:-}" in
  ''|xcb*|offscreen*|*';xcb'*|*';offscreen'*) ;;
  *) echo "peak-pressure: QT_QPA_PLATFORM=$QT_QPA_PLATFORM is not bundled; using xcb" >&2; export QT_QPA_PLATFORM=xcb ;;
esac
# The window is plain widgets drawn by Qt's raster engine: no OpenGL needed. Without this, Qt's
# xcb GLX integration loads the host's GPU driver into the process (and aborts with "Could not
# initialize GLX" on an X server without a usable driver). Set QT_XCB_GL_INTEGRATION=xcb_glx (or
# xcb_egl) to opt back in; the integrations are bundled in plugins/xcbglintegrations.
export QT_XCB_GL_INTEGRATION="${QT_XCB_GL_INTEGRATION:-none}"
# glibc: a fixed mmap threshold returns large native buffers to the OS (see scripts/runtime-env.cjs).
export MALLOC_MMAP_THRESHOLD_="${MALLOC_MMAP_THRESHOLD_:-65536}"
# glibc: two malloc arenas shared by every thread instead of one per thread (see scripts/runtime-env.cjs).
export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"
# V8: the main isolate's young generation at 1 MB semi-spaces (see scripts/runtime-env.cjs).
case " ${NODE_OPTIONS:-} " in *--max-semi-space-size*) ;; *) export NODE_OPTIONS="${NODE_OPTIONS:+$NODE_OPTIONS }--max-semi-space-size=1" ;; esac
# Fonts: the host's fontconfig setup when there is one, the bundled fallback otherwise.
if [ -z "${FONTCONFIG_FILE:-}" ] && [ ! -e /etc/fonts/fonts.conf ] && [ -f "$here/fonts/fonts.conf" ]; then
  export FONTCONFIG_FILE="$here/fonts/fonts.conf"
fi
EOF
  printf 'exec "$here/bin/node" "$here/app/%s" "$@"\n' "$2" >> "$1"
  chmod 755 "$1"
}
write_launcher "$B/peak-pressure" dist/main.js "native window"
write_launcher "$B/peak-pressure-cli" dist/cli.js "headless CLI (replay, live --headless, contract)"

# ------------------------------------------------------------------ licenses + info
declare -A PKGS=()
for soname in "${!COPIED[@]}"; do
  src=${COPIED[$soname]}
  [ "$src" = bundled ] && continue
  pkg=$(dpkg-query -S "$src" 2>/dev/null | head -n1 | cut -d: -f1) || true
  if [ -z "$pkg" ]; then # merged /usr: dpkg knows /lib/... paths
    pkg=$(dpkg-query -S "${src#/usr}" 2>/dev/null | head -n1 | cut -d: -f1) || true
  fi
  [ -n "$pkg" ] && PKGS[$pkg]=1
done
for pkg in "${!PKGS[@]}"; do
  [ -f "/usr/share/doc/$pkg/copyright" ] && cp "/usr/share/doc/$pkg/copyright" "$B/licenses/$pkg.copyright"
done
NODE_LICENSE=$(ls /usr/share/doc/nodejs/LICENSE* 2>/dev/null | head -n1 || true)
[ -n "$NODE_LICENSE" ] && cp "$NODE_LICENSE" "$B/licenses/node.LICENSE"

GLIBC_MIN=$(find "$B/bin/node" "$B/lib" "$B/plugins" "$ADDON" -type f \( -name '*.so*' -o -name '*.node' -o -name node \) -print0 \
  | xargs -0 objdump -T 2>/dev/null | grep -o 'GLIBC_[0-9][0-9.]*' | sort -t. -k1,1 -k2,2n -k3,3n -u | tail -n1)
QT_VERSION=$(dpkg-query -W -f='${Version}' libqt6core6 2>/dev/null || echo unknown)
{
  echo "name: $NAME"
  echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$REPO" diff --quiet HEAD -- src 2>/dev/null || echo ' (+ uncommitted changes in src/)')"
  echo "node: $("$NODE_BIN" --version)"
  echo "nodegui: $(node -p "require('./$NG/package.json').version")"
  echo "qt: $QT_VERSION (Debian $(. /etc/os-release && echo "$VERSION_ID"))"
  echo "requires: Linux x86_64, glibc >= ${GLIBC_MIN#GLIBC_}"
  echo "patchelf: $([ "$HAVE_PATCHELF" = 1 ] && echo 'RUNPATHs $ORIGIN-relative' || echo 'not applied')"
  echo "dist sha256:"
  (cd "$B/app" && find dist -type f | sort | xargs sha256sum | sed 's/^/  /')
} > "$B/BUNDLE-INFO.txt"

# ------------------------------------------------------------------ archive + summary
if [ "${NO_TARBALL:-0}" != 1 ]; then
  tar -C "$OUT" -czf "$OUT/$NAME.tar.gz.tmp" "$NAME"
  mv -f "$OUT/$NAME.tar.gz.tmp" "$OUT/$NAME.tar.gz"
fi

echo "[package-linux] bundle: $B"
echo "[package-linux]   folder $(du -sh "$B" | cut -f1): lib $(du -sh "$B/lib" | cut -f1) (${#COPIED[@]} libs), plugins $(du -sh "$B/plugins" | cut -f1), app $(du -sh "$B/app" | cut -f1) (node_modules $(du -sh "$B/app/node_modules" | cut -f1)), bin/node $(du -sh "$B/bin/node" | cut -f1)"
[ -f "$OUT/$NAME.tar.gz" ] && echo "[package-linux]   archive $OUT/$NAME.tar.gz: $(du -h "$OUT/$NAME.tar.gz" | cut -f1)"
echo "[package-linux]   requires glibc >= ${GLIBC_MIN#GLIBC_}; run: $B/peak-pressure   (headless: $B/peak-pressure-cli)"
echo "[package-linux]   check:  bash scripts/check-bundle.sh   ($(( $(date +%s) - START_TS ))s elapsed)"
