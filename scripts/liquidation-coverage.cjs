#!/usr/bin/env node
// liquidation-coverage.cjs — how often condition 4's liquidation half would hold on a real
// liquidation tape: the share of seconds with at least one liquidation in the trailing 60 s
// (SPEC §6.4, the 60 s retention), per contiguous segment of the tape (split at gaps > 1 h, which
// are recorder downtime or silence — the tape cannot tell which, so they are left out).
//
//   node scripts/liquidation-coverage.cjs [../shared/data/derived/moonStreamProcess/poc/old_logs/old_log_feb9/liq_tape.jsonl.gz]
//
// The tape is moonStreamProcess's processed `!forceOrder@arr` log (no license: read at run time,
// never copied). Its `symbol: "BTC"` means any symbol containing BTC; price > 20,000 keeps
// BTCUSDT, BTCUSDC and the BTC quarterlies, which is close to, but more than, BTCUSDT alone.
const { readFileSync } = require('node:fs');
const { gunzipSync } = require('node:zlib');
const { join } = require('node:path');

const file =
  process.argv[2] ?? join(__dirname, '..', '..', 'shared', 'data', 'derived', 'moonStreamProcess', 'poc', 'old_logs', 'old_log_feb9', 'liq_tape.jsonl.gz');
const RETENTION_S = 60;
const GAP_S = 3600;

const ts = gunzipSync(readFileSync(file))
  .toString('utf8')
  .split('\n')
  .filter((l) => l.length > 0)
  .map((l) => JSON.parse(l))
  .filter((r) => r.type === 'forceOrder' && r.price > 20_000)
  .map((r) => r.ts)
  .sort((a, b) => a - b);

const segments = [];
let seg = [];
for (const t of ts) {
  if (seg.length > 0 && t - seg[seg.length - 1] > GAP_S) {
    segments.push(seg);
    seg = [];
  }
  seg.push(t);
}
if (seg.length > 0) segments.push(seg);

const rows = [];
let allSeconds = 0;
let allCovered = 0;
for (const g of segments) {
  const from = Math.floor(g[0]);
  const to = Math.floor(g[g.length - 1]);
  const covered = new Uint8Array(to - from + 1);
  for (const t of g) for (let s = Math.floor(t) - from, end = Math.min(covered.length, s + RETENTION_S); s < end; s++) covered[s] = 1;
  const n = covered.reduce((a, b) => a + b, 0);
  allSeconds += covered.length;
  allCovered += n;
  const iso = (s) => new Date(s * 1000).toISOString().slice(0, 16).replace('T', ' ');
  rows.push([
    `${iso(from)} → ${iso(to)}`,
    (covered.length / 3600).toFixed(1),
    g.length.toLocaleString('en-US'),
    `${((100 * n) / covered.length).toFixed(1)} %`,
  ]);
}
rows.push(['all segments', (allSeconds / 3600).toFixed(1), ts.length.toLocaleString('en-US'), `${((100 * allCovered) / allSeconds).toFixed(1)} %`]);
const head = ['segment (UTC)', 'hours', 'liquidations', 'seconds with one in the last 60 s'];
const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (c) => `| ${c.map((x, i) => x.padEnd(w[i])).join(' | ')} |`;
process.stdout.write([line(head), `|${w.map((x) => '-'.repeat(x + 2)).join('|')}|`, ...rows.map(line)].join('\n') + '\n');
