/**
 * Test helpers for the order book: the depth frames of a real capture, and a naive reference book
 * (a plain map keyed by the exchange's price strings, applying every diff from the snapshot with
 * no sync logic, no pruning and no numeric keys) that the real book is compared with.
 */
import { parseCaptureLine } from '../src/capture/format';
import type { Frame } from '../src/core/source';
import type { DepthSnapshot, DepthUpdate } from '../src/binance/book/contracts';
import { FIXTURE_BTC, FIXTURE_ETH, haveShared, readLines, SHARED_HFT_2023, SHARED_HFT_2024 } from './fixtures/paths';

export interface DepthInput {
  /** Depth frames (diffs and the REST body) in file order, with the file index. */
  frames: { frame: Frame; file: number }[];
  /** The diffs, parsed, in the same order. */
  diffs: DepthUpdate[];
  /** The REST body and how many diffs preceded it. */
  snapshot: DepthSnapshot;
  diffsBeforeSnapshot: number;
}

export function isDepthFrame(text: string): boolean {
  return text.startsWith('{"stream":"') ? text.slice(11, 40).includes('@depth') : text.startsWith('{"lastUpdateId"');
}

/** The depth frames of one capture, or of several that continue each other (2023-04-04 → 05). */
export function depthInput(files: readonly string[]): DepthInput {
  const frames: DepthInput['frames'] = [];
  const diffs: DepthUpdate[] = [];
  let snapshot: DepthSnapshot | null = null;
  let before = 0;
  files.forEach((path, file) => {
    for (const line of readLines(path)) {
      const r = parseCaptureLine(line);
      if (r.kind !== 'frame' || !isDepthFrame(r.frame.text)) continue;
      frames.push({ frame: r.frame, file });
      if (r.frame.text.startsWith('{"lastUpdateId"')) {
        snapshot = JSON.parse(r.frame.text) as DepthSnapshot;
        before = diffs.length;
      } else diffs.push((JSON.parse(r.frame.text) as { data: DepthUpdate }).data);
    }
  });
  if (snapshot === null) throw new Error(`no REST depth snapshot in ${files.join(', ')}`);
  return { frames, diffs, snapshot, diffsBeforeSnapshot: before };
}

export interface DepthCapture {
  name: string;
  symbol: string;
  files: readonly string[];
  /** Run the fault suite on it (the full 2024 files are supersets of the vendored extracts, so they are not). */
  faults: boolean;
}

/** The captures a test runs on: the vendored 70 s extracts always, the full files when ../shared is present. */
export function depthCaptures(): DepthCapture[] {
  const out: DepthCapture[] = [
    { name: 'btcusdt_20240808 first 70 s (vendored)', symbol: 'BTCUSDT', files: [FIXTURE_BTC], faults: true },
    { name: 'ethusdt_20240808 first 70 s (vendored)', symbol: 'ETHUSDT', files: [FIXTURE_ETH], faults: true },
  ];
  if (haveShared([...SHARED_HFT_2024, ...SHARED_HFT_2023], 'full hftbacktest depth captures')) {
    out.push(
      { name: 'btcusdt_20240808 (full)', symbol: 'BTCUSDT', files: [SHARED_HFT_2024[0]], faults: false },
      { name: 'ethusdt_20240808 (full)', symbol: 'ETHUSDT', files: [SHARED_HFT_2024[1]], faults: false },
      { name: 'btcusdt_20230404 + 20230405 (continued)', symbol: 'BTCUSDT', files: SHARED_HFT_2023, faults: true },
    );
  }
  return out;
}

export type RefLevel = { price: string; qty: string };

/** A plain map per side, keyed by the exchange's price string. */
export class NaiveBook {
  readonly bids = new Map<string, string>();
  readonly asks = new Map<string, string>();

  constructor(s: DepthSnapshot) {
    for (const [p, q] of s.bids) this.bids.set(p, q);
    for (const [p, q] of s.asks) this.asks.set(p, q);
  }

  apply(d: DepthUpdate): void {
    for (const [p, q] of d.b) {
      if (Number(q) === 0) this.bids.delete(p);
      else this.bids.set(p, q);
    }
    for (const [p, q] of d.a) {
      if (Number(q) === 0) this.asks.delete(p);
      else this.asks.set(p, q);
    }
  }

  /** Levels best first. */
  sorted(side: 'bids' | 'asks'): RefLevel[] {
    const dir = side === 'bids' ? -1 : 1;
    return [...this[side].entries()].map(([price, qty]) => ({ price, qty })).sort((a, b) => dir * (Number(a.price) - Number(b.price)));
  }

  /** The best price string of a side. */
  best(side: 'bids' | 'asks'): string {
    let best: string | null = null;
    for (const p of this[side].keys()) if (best === null || (side === 'bids' ? Number(p) > Number(best) : Number(p) < Number(best))) best = p;
    if (best === null) throw new Error(`reference book has no ${side}`);
    return best;
  }

  mid(): number {
    return (Number(this.best('bids')) + Number(this.best('asks'))) / 2;
  }

  /** Σ price × qty within `bps` of mid, summed best outward. */
  depth(side: 'bids' | 'asks', bps: number): number {
    const mid = this.mid();
    const limit = side === 'bids' ? mid * (1 - bps / 10_000) : mid * (1 + bps / 10_000);
    let sum = 0;
    for (const l of this.sorted(side)) {
      const p = Number(l.price);
      if (side === 'bids' ? p < limit : p > limit) break;
      sum += p * Number(l.qty);
    }
    return sum;
  }

  /** A REST-shaped snapshot of this state, stamped `lastUpdateId`. */
  toSnapshot(lastUpdateId: number): DepthSnapshot {
    const lv = (side: 'bids' | 'asks'): [string, string][] => this.sorted(side).map((l) => [l.price, l.qty]);
    return { lastUpdateId, bids: lv('bids'), asks: lv('asks') };
  }
}

/** Index of the first diff the snapshot bridges (`U ≤ L ≤ u`, or `pu == L`). */
export function bridgeIndex(input: DepthInput): number {
  const L = input.snapshot.lastUpdateId;
  const i = input.diffs.findIndex((d) => d.u >= L);
  const d = input.diffs[i];
  if (d === undefined || !((d.U <= L && L <= d.u) || d.pu === L)) throw new Error('the capture snapshot is bridged by no diff');
  return i;
}

/** The reference after the snapshot and every diff up to and including index `last`. */
export function referenceAfter(input: DepthInput, last: number): NaiveBook {
  const ref = new NaiveBook(input.snapshot);
  for (let i = bridgeIndex(input); i <= last; i++) ref.apply(input.diffs[i] as DepthUpdate);
  return ref;
}
