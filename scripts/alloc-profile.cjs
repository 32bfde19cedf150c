#!/usr/bin/env node
// Where a thread allocates: V8's sampling heap profiler with the objects that GCs already collected
// included (what sets the GC rate, not what stays live). Preloaded into the app, it profiles every
// thread it is loaded into (workers inherit --require), from START s for DUR s, and writes one
// profile per thread into DIR; `summary` prints the bytes by function, self and inclusive.
//
//   PP_ALLOC_PROFILE_DIR=/tmp/alloc [PP_ALLOC_START=60] [PP_ALLOC_DUR=60] [PP_ALLOC_THREAD=worker|main|all] [PP_ALLOC_MINOR=0] \
//     node -r ./scripts/alloc-profile.cjs dist/main.js --demo
//   node scripts/alloc-profile.cjs summary /tmp/alloc/worker-<tid>.heapprofile [top]
//
// PP_ALLOC_MINOR=0 leaves out what scavenges collected: what is left is what reached the old
// generation (promoted, or allocated there directly, as large objects are), the part that paces full GCs.
//
// Used for README "UI" (issue 11 item 6): the collector worker's allocation sites in the demo.
'use strict';
const { mkdirSync, readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

function profileThisThread() {
  const dir = process.env.PP_ALLOC_PROFILE_DIR;
  if (!dir) return;
  const { isMainThread, threadId } = require('node:worker_threads');
  const which = process.env.PP_ALLOC_THREAD ?? 'worker';
  if ((which === 'worker' && isMainThread) || (which === 'main' && !isMainThread)) return;
  const { Session } = require('node:inspector');
  const session = new Session();
  session.connect();
  const startMs = Number(process.env.PP_ALLOC_START ?? 60) * 1000;
  const durMs = Number(process.env.PP_ALLOC_DUR ?? 60) * 1000;
  const out = join(dir, `${isMainThread ? 'main' : 'worker'}-${threadId}.heapprofile`);
  const fail = (what, e) => process.stderr.write(`alloc-profile: ${what} failed: ${e.message}\n`);
  setTimeout(() => {
    const options = { samplingInterval: 8192, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: process.env.PP_ALLOC_MINOR !== '0' };
    session.post('HeapProfiler.startSampling', options, (e) => {
      if (e) return fail('startSampling', e);
      setTimeout(() => {
        session.post('HeapProfiler.stopSampling', (e2, r) => {
          if (e2) return fail('stopSampling', e2);
          mkdirSync(dir, { recursive: true });
          writeFileSync(out, JSON.stringify(r.profile));
          process.stderr.write(`alloc-profile: wrote ${out}\n`);
        });
      }, durMs).unref();
    });
  }, startMs).unref();
}

function summary(file, top) {
  const p = JSON.parse(readFileSync(file, 'utf8'));
  const key = (cf) => `${cf.functionName || '(anonymous)'} ${cf.url.split('/').pop()}:${cf.lineNumber + 1}`;
  const self = new Map();
  const incl = new Map();
  let total = 0;
  const walk = (n, stack) => {
    const k = key(n.callFrame);
    total += n.selfSize;
    self.set(k, (self.get(k) ?? 0) + n.selfSize);
    let sum = n.selfSize;
    for (const c of n.children) sum += walk(c, stack.concat(k));
    // Counted once per path, however often recursion repeats the function on it.
    if (!stack.includes(k)) incl.set(k, (incl.get(k) ?? 0) + sum);
    return sum;
  };
  walk(p.head, []);
  const print = (m, title) => {
    process.stdout.write(`== ${title} (${(total / 1048576).toFixed(1)} MB sampled)\n`);
    for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      process.stdout.write(`${((100 * v) / total).toFixed(1).padStart(5)} % ${(v / 1048576).toFixed(1).padStart(7)} MB  ${k}\n`);
    }
  };
  print(self, 'self');
  print(incl, 'inclusive');
}

if (require.main === module) {
  if (process.argv[2] !== 'summary' || !process.argv[3]) {
    process.stderr.write('usage: node scripts/alloc-profile.cjs summary FILE [top]   (or preload it with -r; see its header)\n');
    process.exit(2);
  }
  summary(process.argv[3], Number(process.argv[4] ?? 30));
} else profileThisThread();
