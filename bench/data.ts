/**
 * The benchmark input, loaded into memory once so file I/O and gunzip never count: the real
 * hftbacktest capture of 2024-08-08 (BTCUSDT + ETHUSDT, combined-stream envelopes, merged by
 * receive time) from ../shared/data, or the vendored first-70-s extract of the same files when
 * ../shared is absent. Synthetic open-interest polls (test/fixtures/synthetic.ts) can be merged
 * in for the sections that need promotions; they are labelled synthetic wherever they are used.
 */
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseCaptureLine } from '../src/capture/format';
import { mergeCaptures } from '../src/capture/reader';
import type { Frame } from '../src/core/source';
import { oiCaptureLines } from '../test/fixtures/synthetic';

export type FrameKind = 'trade' | 'bookTicker' | 'depth' | 'other';

export interface Dataset {
  origin: 'shared' | 'vendored-fixture';
  files: string[];
  frames: Frame[];
  /** Parallel to `frames`. */
  kinds: FrameKind[];
  counts: Record<FrameKind, number>;
  text_bytes: number;
  bad_lines: number;
  recv_span_ms: { from: number; to: number };
  symbols: string[];
}

const PREFIX = '{"stream":"';

export function frameKind(text: string): FrameKind {
  if (!text.startsWith(PREFIX)) return 'other';
  const end = text.indexOf('"', PREFIX.length);
  const stream = text.slice(PREFIX.length, end);
  const rest = stream.slice(stream.indexOf('@') + 1);
  if (rest === 'trade') return 'trade';
  if (rest === 'bookTicker') return 'bookTicker';
  if (rest.startsWith('depth')) return 'depth';
  return 'other';
}

export function captureFiles(root: string, forceFixture = false): { origin: Dataset['origin']; files: string[] } {
  const shared = resolve(root, '..', 'shared', 'data', 'raw_fstream', 'hftbacktest');
  const full = [join(shared, 'btcusdt_20240808.gz'), join(shared, 'ethusdt_20240808.gz')];
  if (!forceFixture && full.every((f) => existsSync(f))) return { origin: 'shared', files: full };
  const fixtures = join(root, 'test', 'fixtures');
  return {
    origin: 'vendored-fixture',
    files: [join(fixtures, 'btcusdt_20240808_first70s.gz'), join(fixtures, 'ethusdt_20240808_first70s.gz')],
  };
}

export async function loadDataset(root: string, forceFixture = false): Promise<Dataset> {
  const { origin, files } = captureFiles(root, forceFixture);
  const frames: Frame[] = [];
  const kinds: FrameKind[] = [];
  const counts: Record<FrameKind, number> = { trade: 0, bookTicker: 0, depth: 0, other: 0 };
  const symbols = new Set<string>();
  let bytes = 0;
  let bad = 0;
  for await (const item of mergeCaptures(files)) {
    if (item.kind === 'bad') bad++;
    if (item.kind !== 'frame') continue;
    // The collector receives each frame as its own string (ws hands over a Buffer, decoded once);
    // the capture reader's lines are slices of a larger decoded chunk, which every string operation
    // has to step through. Copy them into the live form so A, B and C all read what the collector reads.
    const f: Frame = { ...item.frame, text: Buffer.from(item.frame.text, 'utf8').toString('utf8') };
    const k = frameKind(f.text);
    frames.push(f);
    kinds.push(k);
    counts[k]++;
    bytes += f.text.length;
    if (k === 'trade') symbols.add(f.text.slice(PREFIX.length, f.text.indexOf('@')).toUpperCase());
  }
  if (frames.length === 0) throw new Error(`no frames in ${files.join(', ')}`);
  return {
    origin,
    files: files.map((f) => `${f.slice(resolve(root, '..').length + 1)} (${statSync(f).size} bytes)`),
    frames,
    kinds,
    counts,
    text_bytes: bytes,
    bad_lines: bad,
    recv_span_ms: { from: (frames[0] as Frame).recv_ms, to: (frames[frames.length - 1] as Frame).recv_ms },
    symbols: [...symbols].sort(),
  };
}

export function framesOfKind(ds: Dataset, kind: FrameKind): Frame[] {
  return ds.frames.filter((_, i) => ds.kinds[i] === kind);
}

/**
 * The real frames plus one SYNTHETIC REST openInterest poll per symbol per second of receive time
 * (values change on every poll, so every judged window has an OI change and windows passing
 * conditions 1–3 are promoted). Merged by receive time, real frames first on ties, as the capture
 * reader merges a third file.
 */
export function withSyntheticOi(ds: Dataset): { frames: Frame[]; synthetic: number } {
  const from = Math.floor(ds.recv_span_ms.from / 1000) * 1000;
  const to = Math.ceil(ds.recv_span_ms.to / 1000) * 1000;
  const oi: Frame[] = [];
  for (const line of oiCaptureLines(ds.symbols, from, to)) {
    const r = parseCaptureLine(line);
    if (r.kind !== 'frame') throw new Error(`synthetic OI line did not parse: ${line}`);
    oi.push(r.frame);
  }
  const out: Frame[] = [];
  let j = 0;
  for (const f of ds.frames) {
    while (j < oi.length && (oi[j] as Frame).recv_ms < f.recv_ms) out.push(oi[j++] as Frame);
    out.push(f);
  }
  while (j < oi.length) out.push(oi[j++] as Frame);
  return { frames: out, synthetic: oi.length };
}
