/**
 * The three things the throughput section compares, each one pass over in-memory frames:
 *
 *   A — bare JSON.parse of every frame: what any JS pipeline that looks at every message pays.
 *   B — our pipeline as it runs live: FramePipeline.ingest (envelope peek, parse, fast-path
 *       validation against the zod contract, normalize, window, baseline, detect) for every frame,
 *       promotions taken, and SystemState.commit every 500 ms of receive time.
 *   C — a peer: tardis-dev's Binance-futures trade mapper, driven the way its replayNormalized
 *       drives it: JSON.parse the frame, a Date for the local timestamp, canHandle, map, consume.
 *
 * Each returns a checksum-like number so no work can be optimised away, and the checksums are
 * compared across runs.
 */
import { normalizeTrades, type Trade } from 'tardis-dev';
import { binanceUsdm } from '../src/binance/adapter';
import { isRawTrade } from '../src/binance/fastpath';
import { normalizeFrame } from '../src/binance/normalize';
import { RawTradeSchema } from '../src/binance/schemas';
import { Engine } from '../src/core/engine';
import { FramePipeline } from '../src/core/pipeline';
import type { Frame } from '../src/core/source';
import { SystemState } from '../src/core/system-state';

/** The live collector's commit cadence (config commitIntervalMs default). */
export const COMMIT_EVERY_MS = 500;

export function runA(frames: readonly Frame[]): number {
  let sink = 0;
  for (let i = 0; i < frames.length; i++) {
    const v: unknown = JSON.parse((frames[i] as Frame).text);
    if (typeof v === 'object' && v !== null) sink++;
  }
  return sink;
}

export interface PipelineRun {
  engine: Engine;
  pipeline: FramePipeline;
  state: SystemState;
  commits: number;
}

export function runB(frames: readonly Frame[], symbols: readonly string[], commitEveryMs: number | null = COMMIT_EVERY_MS): PipelineRun {
  const engine = new Engine({ symbols });
  const pipeline = new FramePipeline(binanceUsdm, engine);
  const state = new SystemState(engine, 'bench', 'REPLAY', { frames: pipeline.counters });
  state.ops.stage = 'OBSERVE';
  let nextCommit = -Infinity;
  let commits = 0;
  for (let i = 0; i < frames.length; i++) {
    const f = frames[i] as Frame;
    pipeline.ingest(f);
    engine.takeNewPromotions();
    if (commitEveryMs !== null && f.recv_ms >= nextCommit) {
      state.commit(f.recv_ms);
      commits++;
      nextCommit = f.recv_ms + commitEveryMs;
    }
  }
  return { engine, pipeline, state, commits };
}

/** B's checksum: frames seen + trades accepted + windows processed (identical on every run). */
export function checksumB(r: PipelineRun): number {
  let trades = 0;
  let windows = 0;
  for (const d of r.engine.detectorsInRankOrder) {
    trades += d.counters.trades;
    windows += d.counters.windows_processed;
  }
  return r.pipeline.counters.frames_received + trades + windows;
}

export function runC(frames: readonly Frame[], symbols: readonly string[]): number {
  const first = frames[0];
  const mapper = normalizeTrades('binance-futures', new Date(first === undefined ? 0 : first.recv_ms));
  // replayNormalized filters mapped messages by the requested (upper-case) symbols.
  const wanted = symbols.map((s) => s.toUpperCase());
  let sink = 0;
  for (let i = 0; i < frames.length; i++) {
    const f = frames[i] as Frame;
    const message: unknown = JSON.parse(f.text);
    const localTimestamp = new Date(f.recv_ms);
    if (!mapper.canHandle(message)) continue;
    const mapped: IterableIterator<Trade> | undefined = mapper.map(message, localTimestamp);
    if (mapped === undefined) continue;
    for (const t of mapped) if (wanted.includes(t.symbol)) sink += t.amount > 0 ? 1 : 0;
  }
  return sink;
}

/** Diagnostic: the normalizer alone (envelope peek, parse, fast-path check, canonical event). */
export function runNormalize(frames: readonly Frame[]): number {
  let events = 0;
  for (let i = 0; i < frames.length; i++) if (normalizeFrame(frames[i] as Frame).kind === 'event') events++;
  return events;
}

/** Trade-only diagnostics: the contract check alone, through zod and through the fast path. */
function payloadOf(v: unknown): unknown {
  return typeof v === 'object' && v !== null && 'data' in v ? (v as { data: unknown }).data : v;
}

export function runZod(frames: readonly Frame[]): number {
  let ok = 0;
  for (let i = 0; i < frames.length; i++) {
    if (RawTradeSchema.safeParse(payloadOf(JSON.parse((frames[i] as Frame).text))).success) ok++;
  }
  return ok;
}

export function runFast(frames: readonly Frame[]): number {
  let ok = 0;
  for (let i = 0; i < frames.length; i++) {
    if (isRawTrade(payloadOf(JSON.parse((frames[i] as Frame).text)))) ok++;
  }
  return ok;
}
