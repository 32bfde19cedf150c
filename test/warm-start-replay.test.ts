/**
 * A warm-started run replays exactly (SPEC §20, issue 14 A.2): the capture holds the REST pages
 * and the two marker frames in the order the collector ingested them, so replaying it twice gives
 * byte-identical events and summary, and both equal what the live side had — the live side being
 * the same frames pushed through a FramePipeline as the collector does. Real trades (vendored
 * hftbacktest extract) plus synthetic, clearly labelled OI polls so that windows get promoted.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { binanceUsdm } from '../src/binance/adapter';
import { formatSummary } from '../src/app/replay-command';
import { formatCaptureHeader, formatCaptureLine, parseCaptureLine } from '../src/capture/format';
import type { PromotedEvent } from '../src/core/contracts/promoted';
import { Engine } from '../src/core/engine';
import { FramePipeline } from '../src/core/pipeline';
import type { Frame } from '../src/core/source';
import { SystemState } from '../src/core/system-state';
import { eventLine, runReplay } from '../src/replay/replay';
import { FIXTURE_FILES } from './fixtures/paths';
import { FIXTURE_RECV_SPAN, oiCaptureLines } from './fixtures/synthetic';
import { recordedTrades, warmStartFrames } from './warm-start-frames';

const SYMBOLS = ['BTCUSDT', 'ETHUSDT'];
const tmp = mkdtempSync(join(tmpdir(), 'pp-warm-replay-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The warm run's frames with the OI poller's bodies merged in by receive time (it starts with the stream). */
function capturedFrames(): Frame[] {
  const trades = recordedTrades(FIXTURE_FILES);
  const liveFromRecv = (trades[0]?.recv ?? 0) + 40_000;
  const w = warmStartFrames(trades, { liveFromRecv, overlapMs: 2_000, spanMs: 300_000 });
  const oi = oiCaptureLines(SYMBOLS, liveFromRecv, FIXTURE_RECV_SPAN.to).map((line) => {
    const r = parseCaptureLine(line);
    if (r.kind !== 'frame') throw new Error(line);
    return r.frame;
  });
  // Stable: at equal receive times the warm run's own order stays.
  return [...w.frames, ...oi].sort((a, b) => a.recv_ms - b.recv_ms);
}

describe('replay of a warm-started capture', () => {
  const frames = capturedFrames();
  const file = join(tmp, 'warm.capture');
  writeFileSync(
    file,
    `${formatCaptureHeader({ run_id: 'warm', symbols: SYMBOLS, started_ms: frames[0]?.recv_ms ?? 0, mode: 'LIVE_PEAK_PRESSURE' })}\n${frames.map(formatCaptureLine).join('\n')}\n`,
  );

  // The live side: the collector pushes each frame through one FramePipeline, and commits.
  const engine = new Engine({ symbols: SYMBOLS });
  const pipeline = new FramePipeline(binanceUsdm, engine);
  const liveEvents: PromotedEvent[] = [];
  for (const f of frames) {
    pipeline.ingest(f);
    liveEvents.push(...engine.takeNewPromotions());
  }
  const liveSnap = new SystemState(engine, 'live', 'LIVE_PEAK_PRESSURE', { frames: pipeline.counters, warmStart: pipeline.warmStart.status }).commit(0);

  it('replays twice byte-identically, and as the live side had it: events, counters, baselines, warm-start status', async () => {
    const runs = [];
    for (let i = 0; i < 2; i++) {
      const events: PromotedEvent[] = [];
      const r = await runReplay({ files: [file], onPromotion: (e) => events.push(e) });
      runs.push({ r, jsonl: events.map(eventLine).join(''), summary: JSON.stringify(r.summary) });
    }
    const [a, b] = runs as [(typeof runs)[number], (typeof runs)[number]];
    expect(b.jsonl).toBe(a.jsonl);
    expect(b.summary).toBe(a.summary);

    expect(liveEvents.length).toBeGreaterThan(0);
    expect(a.jsonl).toBe(liveEvents.map(eventLine).join(''));
    const s = a.r.summary;
    expect(s.symbols_from).toBe('capture_header');
    expect(s.warm_start).toEqual(pipeline.warmStart.status);
    expect(s.warm_start).toMatchObject({ state: 'DONE', backfilled: SYMBOLS, failed: {}, held_events: 0 });
    expect(s.counters.frames_received).toBe(frames.length);
    expect(s.partition_holds).toBe(true);
    for (const d of engine.detectorsInRankOrder) {
      const re = a.r.engine.detector(d.symbol);
      expect(re?.counters).toEqual(d.counters);
      expect(re?.flowHistory.values()).toEqual(d.flowHistory.values());
      expect(re?.backfilledValues).toBe(d.backfilledValues);
      expect(s.per_symbol[d.symbol]?.backfilled_windows).toBe(d.counters.backfilled_windows);
      expect(d.counters.backfilled_windows).toBeGreaterThan(0);
      expect(d.counters.backfill_duplicates).toBeGreaterThan(0);
    }
    const replaySnap = a.r.state.commit(0);
    for (const key of ['per_symbol', 'counters', 'baseline_status', 'warm_start', 'promoted_events', 'watermark_ms'] as const) {
      expect(replaySnap[key], key).toEqual(liveSnap[key]);
    }
    expect(formatSummary(s, 'out.jsonl')).toMatch(/^Warm start: \d+ pages, [\d,]+ trades, [\d,]+ backfilled windows; backfilled BTCUSDT, ETHUSDT$/m);
  });

  it('a capture cut inside the warm start (no end marker) feeds what it holds at the end, deterministically', async () => {
    const end = frames.findIndex((f) => f.source === 'local:warm-start' && f.text.includes('"end"'));
    const cut = join(tmp, 'cut.capture');
    writeFileSync(cut, `${frames.slice(0, end).map(formatCaptureLine).join('\n')}\n`);
    const x = await runReplay({ files: [cut], symbols: SYMBOLS });
    const y = await runReplay({ files: [cut], symbols: SYMBOLS });
    expect(JSON.stringify(x.summary)).toBe(JSON.stringify(y.summary));
    expect(x.summary.warm_start.state).toBe('DONE');
    expect(x.summary.warm_start.backfilled).toEqual(SYMBOLS);
    expect(x.summary.counters.frames_received).toBe(end);
    expect(x.engine.detector('BTCUSDT')?.counters.trades).toBeGreaterThan(0);
  });
});
