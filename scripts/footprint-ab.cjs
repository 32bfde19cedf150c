#!/usr/bin/env node
// Side-by-side footprint of window-app variants: each variant is `node [nodeArgs] <dist>/main.js --demo`
// with its own environment, all started at once under one private Xvfb, so they see the same machine
// load. After a warm-up, samples VmRSS every 2 s, reads VmHWM, per-thread CPU and the resident pages
// by mapping (as bench/app-footprint.ts does), and the --footprint lines (V8 heaps of both isolates).
//
//   node scripts/footprint-ab.cjs '[{"name":"base"},{"name":"semi1","nodeArgs":["--max-semi-space-size=1"]}]' [warmS] [seconds]
//
// A variant: { name, dist?: "dist", nodeArgs?: [], env?: {} }. Prints one JSON object per variant.
// `dist` is a build folder inside the repo (so node_modules resolves), e.g. a copy of dist/ made before a
// change. The launchers' environment (scripts/runtime-env.cjs) applies; a variant's `env` goes under it
// (NODE_OPTIONS=--max-semi-space-size=0 takes the main isolate's cap away). KEEP=1 keeps the run folder
// (footprint lines, debug dirs), TRACE=1 prints every RSS sample.
'use strict';
const { spawn } = require('node:child_process');
const { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { withRuntimeEnv } = require('./runtime-env.cjs');

const root = join(__dirname, '..');
const variants = JSON.parse(process.argv[2] ?? '[{"name":"base"}]');
const warmS = Number(process.argv[3] ?? 60);
const seconds = Number(process.argv[4] ?? 120);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function threadCpu(pid) {
  const out = new Map();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(tid, (Number(f[11]) + Number(f[12])) / 100);
    } catch {
      // ended
    }
  }
  return out;
}
function statusKb(pid) {
  const out = {};
  for (const line of readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const m = /^(VmRSS|VmHWM|RssAnon|RssFile):\s+(\d+)/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}
function category(path) {
  if (path === '') return 'anon';
  if (path === '[heap]') return 'heap';
  if (path.startsWith('[')) return 'other[]';
  if (/\/node$/.test(path)) return 'node';
  if (path.includes('nodegui_core.node')) return 'addon';
  if (/libQt6/.test(path)) return 'qt';
  if (/libicu/.test(path)) return 'icu';
  if (/memfd:|\/SYSV|\/dev\/shm/.test(path)) return 'xshm';
  if (/\.(ttf|otf|pcf|cache-\d+)$|fontconfig/.test(path)) return 'fonts';
  return 'libs';
}
function resident(pid) {
  const out = {};
  let cat = '';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) cat = category(head[1] ?? '');
    else if (line.startsWith('Rss:')) out[cat] = Number(((out[cat] ?? 0) + Number(line.split(/\s+/)[1]) / 1024).toFixed(1));
  }
  return out;
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[(s.length - 1) >> 1] + s[s.length >> 1]) / 2 : NaN;
};

async function xvfb() {
  const proc = spawn('/usr/bin/Xvfb', ['-displayfd', '3', '-screen', '0', '1600x1000x24', '-nolisten', 'tcp'], {
    stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
  });
  const display = await new Promise((resolve) => {
    let buf = '';
    proc.stdio[3].on('data', (c) => {
      buf += c;
      if (buf.includes('\n')) resolve(`:${buf.trim()}`);
    });
  });
  return { proc, display };
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'pp-ab-'));
  const x = await xvfb();
  const kids = variants.map((v) => {
    const foot = join(dir, `${v.name}.jsonl`);
    const env = withRuntimeEnv({ ...process.env, XDG_CONFIG_HOME: join(dir, v.name, 'config'), DISPLAY: x.display, ...(v.env ?? {}) });
    const args = [
      ...(v.nodeArgs ?? []),
      join(root, v.dist ?? 'dist', 'main.js'),
      '--demo',
      '--debug-dir',
      join(dir, v.name, 'debug'),
      '--capture-dir',
      join(dir, v.name, 'cap'),
      '--footprint',
      foot,
    ];
    const child = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c) => (err = (err + c).slice(-2000)));
    return { v, child, foot, err: () => err };
  });
  try {
    await sleep(warmS * 1000);
    for (const k of kids) if (k.child.exitCode !== null) throw new Error(`${k.v.name} exited: ${k.err()}`);
    const c0 = kids.map((k) => threadCpu(k.child.pid));
    const t0 = Date.now();
    const rss = kids.map(() => []);
    while (Date.now() - t0 < seconds * 1000) {
      await sleep(2000);
      kids.forEach((k, i) => rss[i].push(statusKb(k.child.pid).VmRSS / 1024));
      if (process.env.TRACE) process.stderr.write(`${kids.map((k, i) => rss[i].at(-1).toFixed(1)).join(' ')}\n`);
    }
    const wall = (Date.now() - t0) / 1000;
    kids.forEach((k, i) => {
      const pid = k.child.pid;
      const c1 = threadCpu(pid);
      const per = [...c1].map(([tid, s]) => ({ tid, s: s - (c0[i].get(tid) ?? 0) }));
      const total = per.reduce((a, p) => a + p.s, 0);
      const mainS = per.find((p) => p.tid === String(pid))?.s ?? 0;
      const others = per.filter((p) => p.tid !== String(pid)).sort((a, b) => b.s - a.s);
      const st = statusKb(pid);
      const lines = existsSync(k.foot)
        ? readFileSync(k.foot, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l))
        : [];
      const tail = lines.slice(Math.floor(lines.length / 2));
      const mb = (g) => Number((median(tail.map(g)) / 1048576).toFixed(1));
      const spaces = {};
      for (const name of Object.keys(tail.at(-1)?.main.spaces ?? {})) spaces[name] = mb((l) => l.main.spaces[name]?.size ?? 0);
      const out = {
        name: k.v.name,
        rss_median: Number(median(rss[i]).toFixed(1)),
        rss_min: Number(Math.min(...rss[i]).toFixed(1)),
        rss_max: Number(Math.max(...rss[i]).toFixed(1)),
        hwm: Number((st.VmHWM / 1024).toFixed(1)),
        cpu: Number(((100 * total) / wall).toFixed(2)),
        cpu_main: Number(((100 * mainS) / wall).toFixed(2)),
        cpu_worker: Number(((100 * (others[0]?.s ?? 0)) / wall).toFixed(2)),
        main_heap: [mb((l) => l.main.heap_total), mb((l) => l.main.heap_used)],
        worker_heap: [mb((l) => l.worker?.heap_total_bytes ?? 0), mb((l) => l.worker?.heap_used_bytes ?? 0), mb((l) => l.worker?.heap_live_bytes ?? 0)],
        main_spaces: spaces,
        events: lines.at(-1)?.events ?? 0,
        resident: resident(pid),
        ...(process.env.TRACE ? { rss: rss[i].map((r) => Math.round(r)) } : {}),
      };
      process.stdout.write(`${JSON.stringify(out)}\n`);
    });
  } finally {
    for (const k of kids) k.child.kill('SIGTERM');
    await sleep(5000);
    for (const k of kids) if (k.child.exitCode === null) k.child.kill('SIGKILL');
    x.proc.kill('SIGTERM');
    if (process.env.KEEP) process.stderr.write(`kept ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
  }
}
main().catch((e) => {
  process.stderr.write(`${e.stack}\n`);
  process.exit(1);
});
