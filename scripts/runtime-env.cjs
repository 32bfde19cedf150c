// Environment the app's launchers set for the Node process.
//
// MALLOC_MMAP_THRESHOLD_ (Linux/glibc): glibc raises its mmap threshold dynamically after a large
// block is freed (the 2–3 MB snapshot-file buffer does that), after which big native buffers
// (socket reads, gzip chunks) are kept in the heap arenas and the RSS creeps to the high-water
// mark. A fixed 64 KiB threshold returns such buffers to the OS. Measured in the memory-over-a-day
// benchmark: median RSS 148 → 126 MB at 56k frames/s (README "Performance"). Must be set before
// the process starts.
//
// MALLOC_ARENA_MAX=2 (Linux/glibc): glibc gives threads their own malloc arenas (up to 8 per core)
// and each keeps its own freed memory; the collector worker's arena alone grew to 11 MB resident in
// a books-on run. Two arenas share that free memory: the collector's RSS median 3.5-7.3 MB lower,
// books on or off, the window app's 2.3 MB (README "Memory over a day", what the day runs changed).
// Must be set before the process starts, like the threshold.
//
// QT_XCB_GL_INTEGRATION=none (Linux): the window is drawn by Qt's raster engine; Qt's GLX
// integration would load the GPU driver into the process (Mesa llvmpipe without a GPU: ~55 MB RSS,
// measured in the demo under Xvfb). src/app/main.ts sets it too when the app is started without a
// launcher.
//
// NODE_OPTIONS --max-semi-space-size=1 (every platform): the main isolate's young generation, which
// V8 otherwise grows to 8–16 MB once the window renders (the snapshot clones it receives are young
// garbage). The main thread allocates little; 1 MB semi-spaces keep it at 2 MB. V8 applies the
// flag to every isolate created later too, over a Worker's resourceLimits, so src/ipc/host.ts
// clears it before the collector worker starts (that worker's young generation is its own).
// Appended to a NODE_OPTIONS the user set; a --max-semi-space-size there wins.
'use strict';

const RUNTIME_ENV = Object.freeze({ MALLOC_MMAP_THRESHOLD_: '65536', MALLOC_ARENA_MAX: '2', QT_XCB_GL_INTEGRATION: 'none' });
const MAIN_SEMI_SPACE = '--max-semi-space-size=1';

/** `env` plus the runtime settings it does not set itself (an explicit user value wins). */
function withRuntimeEnv(env, platform = process.platform) {
  const out = { ...env };
  if (platform === 'linux') {
    for (const [k, v] of Object.entries(RUNTIME_ENV)) if (out[k] === undefined) out[k] = v;
  }
  const opts = out.NODE_OPTIONS ?? '';
  if (!/--max-semi-space-size\b/.test(opts)) out.NODE_OPTIONS = opts === '' ? MAIN_SEMI_SPACE : `${opts} ${MAIN_SEMI_SPACE}`;
  return out;
}

module.exports = { RUNTIME_ENV, MAIN_SEMI_SPACE, withRuntimeEnv };
