/**
 * How fast depth frames go through the order book, on the real hftbacktest captures (`@depth@0ms`,
 * the heaviest depth stream Binance has). Not a benchmark section: a small measurement for the
 * book's design (fast validator vs zod, cost of the book itself). Frames are read into memory
 * first, so only parsing and the book are timed.
 *
 *   npx tsc -p scripts/tsconfig.measure.json && node --expose-gc build/measure/scripts/measure-book.js [files…]
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parseCaptureLine } from '../src/capture/format';
import type { Frame } from '../src/core/normalize';
import { BookRoom } from '../src/binance/book/book-room';
import { DepthUpdateSchema, isDepthUpdate } from '../src/binance/book/contracts';

const HFT = resolve(__dirname, '..', '..', '..', '..', 'shared', 'data', 'raw_fstream', 'hftbacktest');
const DEFAULT_GROUPS = [['btcusdt_20240808.gz'], ['ethusdt_20240808.gz'], ['btcusdt_20230404.dat.gz', 'btcusdt_20230405.dat.gz']];

function framesOf(paths: readonly string[]): Frame[] {
  const out: Frame[] = [];
  for (const p of paths) {
    const buf = readFileSync(p);
    const text = (buf[0] === 0x1f ? gunzipSync(buf) : buf).toString('utf8');
    for (const line of text.split('\n')) {
      const r = parseCaptureLine(line);
      if (r.kind === 'frame' && (r.frame.text.includes('@depth') || r.frame.text.startsWith('{"lastUpdateId"'))) out.push(r.frame);
    }
  }
  return out;
}

function time(label: string, n: number, reps: number, fn: () => void): number {
  fn(); // warm-up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < reps; i++) fn();
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const perSec = (n * reps) / s;
  console.log(`${label.padEnd(46)} ${perSec.toFixed(0).padStart(9)} frames/s  ${((1e6 * s) / (n * reps)).toFixed(1).padStart(6)} µs/frame`);
  return perSec;
}

const args = process.argv.slice(2);
const groups = args.length > 0 ? [args] : DEFAULT_GROUPS.map((g) => g.map((f) => join(HFT, f)));
for (const g of groups) {
  const frames = framesOf(g);
  const diffs = frames.filter((f) => f.text.startsWith('{"stream"'));
  const levels = diffs.reduce((s, f) => s + (f.text.match(/\],\[|\[\[/g)?.length ?? 0), 0);
  console.log(`\n${g.map((p) => p.split('/').pop()).join(' + ')}: ${diffs.length} diffs, ${(levels / diffs.length).toFixed(1)} levels/diff`);
  const gc = (globalThis as { gc?: () => void }).gc;
  // One capture per process: earlier captures' frames would still be in the heap otherwise.
  if (gc !== undefined && groups.length === 1) {
    // Heap the books hold at the end of the capture (run node with --expose-gc).
    gc();
    const base = process.memoryUsage().heapUsed;
    const held = new BookRoom({ symbols: ['BTCUSDT', 'ETHUSDT'], sampleDepthBps: 10 });
    for (const f of frames) held.ingestFrame(f);
    gc();
    console.log(`  heap held by the books at the end: ${((process.memoryUsage().heapUsed - base) / 1e6).toFixed(2)} MB`);
  }
  time('JSON.parse only', diffs.length, 5, () => {
    for (const f of diffs) JSON.parse(f.text);
  });
  time('JSON.parse + fast validator', diffs.length, 5, () => {
    for (const f of diffs) if (!isDepthUpdate((JSON.parse(f.text) as { data: unknown }).data)) throw new Error('rejected');
  });
  time('JSON.parse + zod DepthUpdateSchema', diffs.length, 5, () => {
    for (const f of diffs) DepthUpdateSchema.parse((JSON.parse(f.text) as { data: unknown }).data);
  });
  const parsed = diffs.map((f) => (JSON.parse(f.text) as { data: unknown }).data);
  time('fast validator alone (parsed payloads)', parsed.length, 20, () => {
    for (const d of parsed) if (!isDepthUpdate(d)) throw new Error('rejected');
  });
  time('zod DepthUpdateSchema alone (parsed payloads)', parsed.length, 20, () => {
    for (const d of parsed) DepthUpdateSchema.parse(d);
  });
  let room: BookRoom | null = null;
  time('BookRoom (parse + validate + sync + apply)', frames.length, 5, () => {
    room = new BookRoom({ symbols: ['BTCUSDT', 'ETHUSDT'], sampleDepthBps: 10 });
    for (const f of frames) room.ingestFrame(f);
  });
  const r = room as BookRoom | null;
  for (const b of r?.booksInOrder ?? []) {
    if (b.counters.diffs_received === 0) continue;
    const c = b.counters;
    console.log(
      `  ${b.symbol}: ${b.state}, applied ${c.diffs_applied}, pu_gaps ${c.pu_gaps}, resyncs ${c.resyncs}, levels ${b.levelCount}, pruned ${c.levels_pruned}, crossed ${c.crossed}`,
    );
  }
}
