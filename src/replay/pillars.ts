/**
 * Books + policy `four-pillars-001` + liquidation tape beside the M3 engine, over the same frames:
 * the replay-side driver of issue 12 (until the live collector and src/replay/replay.ts wire it).
 *
 * Wiring, which the collector will copy:
 *   - every frame goes to the BookRoom (depth diffs, REST depth bodies) and to the Engine (the rest;
 *     the normalizer counts depth frames as ignored, so M3's counters do not change);
 *   - the Engine's `onWindow` hook, called right after M3 judged a window, runs the policy with the
 *     book as of that window's end, then lets that symbol's book forget older samples;
 *   - a liquidation the engine accepted (its duplicate check passed) goes to the policy's retention
 *     and to the tape; the tape's window follows the watermark.
 * M3 reads none of this: with the policy on or off its events and counters are byte-identical.
 */
import type { PromotedEvent } from '../core/contracts/promoted';
import type { CanonicalEvent } from '../core/contracts/canonical';
import { Engine } from '../core/engine';
import { LiquidationTape } from '../core/liquidation-tape';
import { FramePipeline, type DeadLetterSink } from '../core/pipeline';
import type { Frame, FrameResult } from '../core/source';
import type { BookAsOf, BookSample } from '../core/policy/book-sample';
import { PILLARS } from '../core/policy/constants';
import { POLICY_OUTCOMES, type PolicyEvent, type PolicyOutcome } from '../core/policy/contracts';
import { FourPillarsPolicy, type PolicyVerdict } from '../core/policy/four-pillars';
import type { KlineSource } from '../core/contracts/vocabulary';
import type { ClosedWindow } from '../core/symbol-detector';
import { binanceUsdm } from '../binance/adapter';
import { BookRoom, type DepthFrameResult } from '../binance/book/book-room';
import type { BookState } from '../binance/book/order-book';
import type { DeadLetterFile } from '../capture/dead-letter';
import { mergeCaptures } from '../capture/reader';
import { discoverSymbols, summarize, type ReplaySummary } from './replay';

export interface PillarsOptions {
  symbols: readonly string[];
  /** Run the policy (default true). Off, the pipeline is M3 plus books and tape. */
  policy?: boolean;
  /** Keep order books (default true). Off, every window the policy reaches pillar 4 with is book_unavailable. */
  books?: boolean;
  klineSource?: KlineSource;
  onWindow?: (w: ClosedWindow) => void;
  onVerdict?: (v: PolicyVerdict) => void;
  /** Where malformed frames (M3's and the books') are dead-lettered. */
  deadLetter?: DeadLetterSink;
}

const NO_BOOKS: BookAsOf = { sampleAt: (): BookSample => ({ live: false, reason: 'not_sampled' }) };

export class PillarsPipeline {
  readonly engine: Engine;
  /** The same frame pipeline the live collector and runReplay use, for everything but depth. */
  readonly frames: FramePipeline;
  readonly books: BookRoom | null;
  readonly policy: FourPillarsPolicy | null;
  readonly tape: LiquidationTape;
  private readonly onWindowHook: ((w: ClosedWindow) => void) | undefined;
  private readonly deadLetter: DeadLetterSink | undefined;

  constructor(opts: PillarsOptions) {
    this.onWindowHook = opts.onWindow;
    this.engine = new Engine({ symbols: opts.symbols, onWindow: (w) => this.closed(w), ...(opts.klineSource ? { klineSource: opts.klineSource } : {}) });
    this.frames = new FramePipeline(binanceUsdm, this.engine, opts.deadLetter);
    this.deadLetter = opts.deadLetter;
    this.books = opts.books === false ? null : new BookRoom({ symbols: opts.symbols, sampleDepthBps: PILLARS.DEPTH_BAND_BPS });
    this.policy = opts.policy === false ? null : new FourPillarsPolicy({ symbols: opts.symbols, ...(opts.onVerdict ? { onVerdict: opts.onVerdict } : {}) });
    this.tape = new LiquidationTape(opts.symbols);
  }

  /** One raw frame; `file` is the capture file it came from (foreign REST depth bodies are attributed by it). */
  ingestFrame(frame: Frame, file = 0): { result: FrameResult; depth: DepthFrameResult | null } {
    const depth = this.books?.ingestFrame(frame, file) ?? null;
    if (depth?.kind === 'malformed') this.deadLetter?.({ recv_ms: frame.recv_ms, source: frame.source, reason: depth.reason, raw: frame.text });
    const result = this.frames.ingest(frame);
    if (result.kind === 'event') this.afterEvent(result.event);
    return { result, depth };
  }

  /** One canonical event (tests, and sources that are not frames). */
  ingest(ev: CanonicalEvent): void {
    this.engine.ingest(ev);
    this.afterEvent(ev);
  }

  /** Liquidations the engine took so far, per symbol: a rise after an event means it accepted that one. */
  private readonly liquidationsSeen = new Map<string, number>();

  private afterEvent(ev: CanonicalEvent): void {
    if (ev.type === 'LIQUIDATION') {
      const taken = this.engine.detector(ev.symbol)?.counters.liquidations;
      if (taken !== undefined && taken > (this.liquidationsSeen.get(ev.symbol) ?? 0)) {
        this.liquidationsSeen.set(ev.symbol, taken);
        this.policy?.addLiquidation(ev);
        this.tape.add(ev);
      }
    }
    if (this.engine.watermark !== null) this.tape.advanceTo(this.engine.watermark);
  }

  private closed(w: ClosedWindow): void {
    this.onWindowHook?.(w);
    this.policy?.onWindow(w, this.books ?? NO_BOOKS, this.engine.watermark as number);
    this.books?.book(w.symbol)?.forgetSamplesBefore(w.window_start_ms + 1000);
  }
}

export interface PolicySymbolSummary {
  windows_seen: number;
  empty: number;
  judged: number;
  partition: Record<PolicyOutcome, number>;
  /** judged = Σ partition. */
  partition_holds: boolean;
}

export interface BookSummary {
  state: BookState;
  diffs_applied: number;
  pu_gaps: number;
  resyncs: number;
  /** The exchange's decimal strings; null unless live. */
  best_bid: string | null;
  best_ask: string | null;
  levels: number;
  levels_pruned: number;
  snapshots_applied: number;
  snapshots_stale: number;
  /** Requests the books made; replay only counts them (the capture holds the snapshots that were fetched). */
  snapshot_requests: number;
}

export interface PillarsReplaySummary {
  m3: ReplaySummary;
  policy: { id: string; version: number; events: number; partition_holds: boolean; per_symbol: Record<string, PolicySymbolSummary> } | null;
  books: { depth_frames: number; malformed: number; snapshots_unattributed: number; per_symbol: Record<string, BookSummary> } | null;
}

export interface PillarsReplayResult {
  summary: PillarsReplaySummary;
  m3Events: PromotedEvent[];
  policyEvents: PolicyEvent[];
  pipeline: PillarsPipeline;
}

/** The policy's partition per symbol, in POLICY_OUTCOMES order. */
export function summarizePolicy(policy: FourPillarsPolicy, symbols: readonly string[]): NonNullable<PillarsReplaySummary['policy']> {
  const per: Record<string, PolicySymbolSummary> = {};
  let holds = true;
  for (const s of symbols) {
    const c = policy.counters(s);
    if (c === undefined) continue;
    const partition = Object.fromEntries(POLICY_OUTCOMES.map((k) => [k, c[k]])) as Record<PolicyOutcome, number>;
    const ok = POLICY_OUTCOMES.reduce((sum, k) => sum + c[k], 0) === c.judged && c.judged + c.empty === c.windows_seen;
    holds &&= ok;
    per[s] = { windows_seen: c.windows_seen, empty: c.empty, judged: c.judged, partition, partition_holds: ok };
  }
  const section = policy.section(0);
  return { id: section.policy.id, version: section.policy.version, events: section.counters.promoted, partition_holds: holds, per_symbol: per };
}

export function summarizeBooks(room: BookRoom): NonNullable<PillarsReplaySummary['books']> {
  const per: Record<string, BookSummary> = {};
  for (const b of room.booksInOrder) {
    const c = b.counters;
    per[b.symbol] = {
      state: b.state,
      diffs_applied: c.diffs_applied,
      pu_gaps: c.pu_gaps,
      resyncs: c.resyncs,
      best_bid: b.bestBid()?.price ?? null,
      best_ask: b.bestAsk()?.price ?? null,
      levels: b.levelCount,
      levels_pruned: c.levels_pruned,
      snapshots_applied: c.snapshots_applied,
      snapshots_stale: c.snapshots_stale,
      snapshot_requests: c.snapshot_requests,
    };
  }
  const rc = room.counters;
  return { depth_frames: rc.depth_frames, malformed: rc.malformed, snapshots_unattributed: rc.snapshots_unattributed, per_symbol: per };
}

export interface PillarsReplayOptions {
  files: readonly string[];
  symbols?: readonly string[];
  policy?: boolean;
  books?: boolean;
  deadLetters?: DeadLetterFile;
  onVerdict?: (v: PolicyVerdict) => void;
}

/** Replay captures through M3, the books, the policy and the tape. Deterministic, like runReplay. */
export async function runPillarsReplay(opts: PillarsReplayOptions): Promise<PillarsReplayResult> {
  let symbols = opts.symbols && opts.symbols.length > 0 ? opts.symbols : null;
  let from: ReplaySummary['symbols_from'] = 'option';
  if (symbols === null) {
    const found = await discoverSymbols(opts.files);
    if (found.symbols.length === 0) throw new Error(`no trades found in ${opts.files.join(', ')}: nothing to replay (pass symbols to replay other streams)`);
    symbols = found.symbols;
    from = found.from;
  }
  const deadLetters = opts.deadLetters;
  const pipeline = new PillarsPipeline({
    symbols,
    ...(deadLetters ? { deadLetter: (d) => deadLetters.write(d) } : {}),
    ...(opts.policy === false ? { policy: false } : {}),
    ...(opts.books === false ? { books: false } : {}),
    ...(opts.onVerdict ? { onVerdict: opts.onVerdict } : {}),
  });
  const engine = pipeline.engine;
  const m3Events: PromotedEvent[] = [];
  const policyEvents: PolicyEvent[] = [];
  let frames = 0;
  let badLines = 0;
  let firstWatermark: number | null = null;
  for await (const item of mergeCaptures(opts.files)) {
    if (item.kind === 'header') continue;
    if (item.kind === 'bad') {
      badLines++;
      pipeline.frames.reject(
        { recv_ms: 0, source: `capture:${opts.files[item.file]}:${item.line}`, reason: item.reason, raw: item.raw },
        `capture_line:${item.reason}`,
      );
      continue;
    }
    frames++;
    const f = item.frame;
    pipeline.ingestFrame(f, item.file);
    if (firstWatermark === null && engine.watermark !== null) firstWatermark = engine.watermark;
    m3Events.push(...engine.takeNewPromotions());
    if (pipeline.policy) policyEvents.push(...pipeline.policy.takeNewEvents());
    pipeline.books?.takeRequests();
  }
  const m3 = summarize(pipeline.frames, { files: [...opts.files], symbolsFrom: from, frames, badLines, firstWatermark });
  return {
    summary: {
      m3,
      policy: pipeline.policy ? summarizePolicy(pipeline.policy, symbols) : null,
      books: pipeline.books ? summarizeBooks(pipeline.books) : null,
    },
    m3Events,
    policyEvents,
    pipeline,
  };
}

/** One JSONL line per policy event; key order fixed by construction in the policy. */
export function policyEventLine(e: PolicyEvent): string {
  return `${JSON.stringify(e)}\n`;
}
