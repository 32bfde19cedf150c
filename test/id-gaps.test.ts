/**
 * Trade-id gaps are counted only when ids are really missing (issue 9 item 7): a jump opens a hole
 * that late ids fill; a hole counts once the receipt time moved on without it being filled. On the
 * real fixtures: reordering frames in transit (as a rotation overlap or the simulator's
 * out_of_order fault does) counts no gap; removing trades counts exactly the runs removed.
 */
import { describe, expect, it } from 'vitest';
import { binanceUsdm } from '../src/binance/adapter';
import { normalizeFrame } from '../src/binance/normalize';
import { parseCaptureLine } from '../src/capture/format';
import { LIMITS } from '../src/core/constants';
import { Engine } from '../src/core/engine';
import { IdGaps } from '../src/core/id-gaps';
import { FramePipeline } from '../src/core/pipeline';
import type { Frame } from '../src/core/source';
import { FIXTURE_BTC, readLines } from './fixtures/paths';
import { mulberry32 } from './helpers';

describe('IdGaps', () => {
  it('a jump is a hole; a late id in its middle splits it; the pieces count when they expire', () => {
    const g = new IdGaps(1000, 16);
    for (const id of [1, 2, 10]) g.observe(id, 0);
    expect(g.open).toBe(1); // 3–9
    g.observe(6, 10); // 3–5 and 7–9
    expect(g.open).toBe(2);
    g.observe(3, 20);
    g.observe(9, 30); // 4–5 and 7–8
    expect(g.confirmed).toBe(0);
    g.observe(11, 1000);
    expect(g.confirmed).toBe(0);
    g.observe(12, 1001);
    expect(g.confirmed).toBe(2);
    expect(g.open).toBe(0);
    // A late id after its hole was given up is not counted again, nor un-counted.
    g.observe(4, 1002);
    expect(g.confirmed).toBe(2);
  });

  it('holes filled completely never count; consecutive ids open none', () => {
    const g = new IdGaps(0, 16);
    for (let id = 100; id < 200; id++) g.observe(id, id);
    expect(g.open).toBe(0);
    const h = new IdGaps(1000, 16);
    for (const id of [1, 4, 2, 3, 5]) h.observe(id, 0);
    h.observe(6, 5000);
    expect(h.confirmed).toBe(0);
  });

  it('more open holes than the bound: the oldest is given up first, so memory stays bounded', () => {
    const g = new IdGaps(1_000_000, 4);
    for (let i = 0; i < 10; i++) g.observe(i * 10, 0);
    expect(g.open).toBe(4);
    expect(g.confirmed).toBe(5);
  });
});

/** The fixture's WS frames in receive order. */
function fixtureFrames(): Frame[] {
  return readLines(FIXTURE_BTC)
    .map((l) => parseCaptureLine(l))
    .flatMap((r) => (r.kind === 'frame' ? [r.frame] : []));
}

const isTrade = (f: Frame): boolean => {
  const r = normalizeFrame(f);
  return r.kind === 'event' && r.event.type === 'TRADE';
};

function gapsOf(frames: readonly Frame[]): { gaps: number; trades: number; duplicates: number } {
  const engine = new Engine({ symbols: ['BTCUSDT'] });
  const p = new FramePipeline(binanceUsdm, engine);
  for (const f of frames) p.ingest(f);
  const c = engine.detector('BTCUSDT')?.counters;
  return { gaps: c?.trade_id_gaps ?? -1, trades: c?.trades ?? -1, duplicates: c?.duplicate_trades ?? -1 };
}

describe('on real frames (BTCUSDT fixture)', () => {
  const frames = fixtureFrames();
  const base = gapsOf(frames);

  it('the recording as received has no id gap', () => {
    expect(base.trades).toBeGreaterThan(2000);
    expect(base.gaps).toBe(0);
  });

  it('trades reordered in transit (blocks of 40 shuffled, receive times kept in order): still no gap, nothing lost', () => {
    const rnd = mulberry32(9);
    const out = [...frames];
    const tradeIdx = out.flatMap((f, i) => (isTrade(f) ? [i] : []));
    for (let b = 0; b + 40 <= tradeIdx.length; b += 97) {
      const idx = tradeIdx.slice(b, b + 40);
      const shuffled = idx.map((i) => out[i] as Frame);
      for (let i = shuffled.length - 1; i > 0; i--) {
        const j = Math.floor(rnd() * (i + 1));
        [shuffled[i], shuffled[j]] = [shuffled[j] as Frame, shuffled[i] as Frame];
      }
      // Each slot keeps its receive time: the frames arrive in this new order.
      idx.forEach((slot, k) => {
        out[slot] = { ...(shuffled[k] as Frame), recv_ms: (out[slot] as Frame).recv_ms };
      });
    }
    const r = gapsOf(out);
    expect(r.gaps).toBe(0);
    expect(r.trades).toBe(base.trades);
    expect(r.duplicates).toBe(0);
  });

  it('trades really missing: each removed run counts once, after the wait', () => {
    const tradeIdx = frames.flatMap((f, i) => (isTrade(f) ? [i] : []));
    // Remove three separate runs (1, 5 and 2 trades) well apart.
    const removed = new Set([...[100], ...[700, 701, 702, 703, 704], ...[1500, 1501]].map((k) => tradeIdx[k] as number));
    const r = gapsOf(frames.filter((_, i) => !removed.has(i)));
    expect(r.gaps).toBe(3);
    expect(r.trades).toBe(base.trades - 8);
    // The fixture covers 70 s of receipt time: more than enough for every hole to expire.
    expect(LIMITS.TRADE_ID_HOLE_WAIT_MS).toBeLessThan(30_000);
  });
});
