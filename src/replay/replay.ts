/**
 * Replay: captures → the same frame pipeline (adapter → core, with the books, policy
 * `four-pillars-001` and liquidation tape beside M3) the live collector uses → promoted events,
 * policy events and a summary. Deterministic: the summary holds no wall-clock values and events
 * are serialised with a fixed key order, so two replays of the same input are byte-identical; and
 * M3's events and counters are the same with the policy and the books on or off.
 */
import { binanceUsdm } from '../binance/adapter';
import { TOP_N_SYMBOLS } from '../core/constants';
import type { PromotedEvent } from '../core/contracts/promoted';
import type { Snapshot } from '../core/contracts/snapshot';
import { PARTITION_KEYS, type PartitionKey, type SymbolCounters } from '../core/contracts/counters';
import type { Engine, EngineCounters } from '../core/engine';
import { NearMissLog, withNearMisses } from '../core/near-miss';
import { createPipeline, type FrameCounters, type FramePipeline } from '../core/pipeline';
import type { WarmStartStatus } from '../core/contracts/warm-start';
import type { PolicyEvent } from '../core/policy/contracts';
import type { PolicyVerdict } from '../core/policy/four-pillars';
import type { ExchangeAdapter } from '../core/source';
import type { ClosedWindow } from '../core/symbol-detector';
import { SystemState } from '../core/system-state';
import type { DeadLetterFile } from '../capture/dead-letter';
import { type CaptureHeader } from '../capture/format';
import { mergeCaptures, REFUSED_PREFIX, type ReadProgress } from '../capture/reader';
import { type BooksSummary, type PolicySummary, summarizeBooks, summarizePolicy } from './beside-summary';

/** The per-symbol counters a summary reports besides the partition, in summary order. */
const SUMMARY_COUNTERS = [
  'trades',
  'liquidations',
  'window_not_closed',
  'duplicate_trades',
  'trade_id_gaps',
  'non_market_trades',
  'oi_polls',
  'backfilled_windows',
  'backfill_duplicates',
] as const satisfies readonly (keyof SymbolCounters)[];

export interface ReplayOptions {
  files: readonly string[];
  /** The exchange the capture was recorded from (Binance USDⓈ-M unless said otherwise). */
  adapter?: ExchangeAdapter;
  /** Allow-list; from the capture header or the data when absent. */
  symbols?: readonly string[];
  deadLetters?: DeadLetterFile;
  progress?: ReadProgress;
  /** Called with every promotion as it happens. */
  onPromotion?: (e: PromotedEvent) => void;
  onWindow?: (w: ClosedWindow) => void;
  /** Run policy `four-pillars-001` beside M3 (default true). */
  policy?: boolean;
  /** Keep order books (default true); off, every window the policy takes to pillar 4 is `book_unavailable`. */
  books?: boolean;
  /** Called with every policy event as it happens. */
  onPolicyEvent?: (e: PolicyEvent) => void;
  /** Sees every policy verdict (tests, inspection). */
  onVerdict?: (v: PolicyVerdict) => void;
  /** Keep "why silent?" near misses (as the live collector does) and publish them in the snapshots. */
  nearMisses?: boolean;
  /** Commit a snapshot every this many ms of receive time (exercises the live commit path). */
  commitEveryMs?: number;
  /** Sees every snapshot those commits make (tests: what the worker would post). */
  onCommit?: (s: Snapshot) => void;
  onFrame?: () => void;
}

export type SymbolSummary = {
  windows_processed: number;
  partition: Record<PartitionKey, number>;
  partition_holds: boolean;
} & Pick<SymbolCounters, (typeof SUMMARY_COUNTERS)[number]>;

export interface ReplaySummary {
  files: string[];
  symbols: string[];
  symbols_from: 'option' | 'capture_header' | 'data';
  frames: number;
  bad_lines: number;
  /** Frames the live capture could not take (its gap marks): received live, absent here. */
  not_captured: number;
  first_watermark_ms: number | null;
  last_watermark_ms: number | null;
  windows_processed: number;
  promotions: number;
  partition_holds: boolean;
  counters: Omit<FrameCounters, 'malformed_by_reason' | 'ignored_by_kind'> & EngineCounters;
  malformed_by_reason: Record<string, number>;
  ignored_by_kind: Record<string, number>;
  per_symbol: Record<string, SymbolSummary>;
  /** The run's warm start as the capture recorded it (SPEC §20); OFF for captures without one. */
  warm_start: WarmStartStatus;
  // ---- beside M3 (after every M3 key, so M3's part of the output never moves) ----
  /** Policy `four-pillars-001`: its own partition and events; null when it did not run. */
  policy: PolicySummary | null;
  /** Every book at the end of the input; null when no books were kept. */
  books: BooksSummary | null;
}

function sortedRecord(r: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** One JSONL line per promoted event; key order is fixed by construction in the core. */
export function eventLine(e: PromotedEvent): string {
  return `${JSON.stringify(e)}\n`;
}

/**
 * The symbol set of a capture: its header's, else the TOP_N symbols with the most trades in it.
 * Reads the files once more, which is cheap next to the replay itself.
 */
export async function discoverSymbols(
  files: readonly string[],
  adapter: ExchangeAdapter = binanceUsdm,
): Promise<{ symbols: string[]; from: 'capture_header' | 'data' }> {
  const tradeCounts = new Map<string, number>();
  for await (const item of mergeCaptures(files)) {
    if (item.kind === 'header' && item.header.symbols && item.header.symbols.length > 0) {
      return { symbols: item.header.symbols, from: 'capture_header' };
    }
    if (item.kind !== 'frame') continue;
    const r = adapter.normalize(item.frame);
    if (r.kind === 'event' && r.event.type === 'TRADE') tradeCounts.set(r.event.symbol, (tradeCounts.get(r.event.symbol) ?? 0) + 1);
  }
  const symbols = [...tradeCounts.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, TOP_N_SYMBOLS)
    .map(([s]) => s);
  return { symbols, from: 'data' };
}

export function summarize(
  pipeline: FramePipeline,
  extra: {
    files: string[];
    symbolsFrom: ReplaySummary['symbols_from'];
    frames: number;
    badLines: number;
    notCaptured?: number;
    firstWatermark: number | null;
    /** Receive time of the last frame (the books' status is taken as of it). */
    lastRecvMs: number;
  },
): ReplaySummary {
  const engine = pipeline.engine;
  const per: Record<string, SymbolSummary> = {};
  let windows = 0;
  let promotions = 0;
  let allHold = true;
  for (const d of engine.detectorsInRankOrder) {
    const c = d.counters;
    const partition = Object.fromEntries(PARTITION_KEYS.map((k) => [k, c[k]])) as SymbolSummary['partition'];
    const holds = PARTITION_KEYS.reduce((s, k) => s + c[k], 0) === c.windows_processed;
    allHold &&= holds;
    windows += c.windows_processed;
    promotions += c.peak_pressure_count;
    per[d.symbol] = {
      windows_processed: c.windows_processed,
      partition,
      partition_holds: holds,
      ...(Object.fromEntries(SUMMARY_COUNTERS.map((k) => [k, c[k]])) as Pick<SymbolCounters, (typeof SUMMARY_COUNTERS)[number]>),
    };
  }
  const { malformed_by_reason, ignored_by_kind, ...frames } = pipeline.counters;
  return {
    files: extra.files,
    symbols: [...engine.symbols],
    symbols_from: extra.symbolsFrom,
    frames: extra.frames,
    bad_lines: extra.badLines,
    not_captured: extra.notCaptured ?? 0,
    first_watermark_ms: extra.firstWatermark,
    last_watermark_ms: engine.watermark,
    windows_processed: windows,
    promotions,
    partition_holds: allHold,
    counters: { ...frames, ...engine.counters },
    malformed_by_reason: sortedRecord(malformed_by_reason),
    ignored_by_kind: sortedRecord(ignored_by_kind),
    per_symbol: per,
    warm_start: structuredClone(pipeline.warmStart.status),
    policy: pipeline.beside?.policy ? summarizePolicy(pipeline.beside.policy, engine.symbols) : null,
    books: pipeline.beside?.books ? summarizeBooks(pipeline.beside.books, extra.lastRecvMs) : null,
  };
}

export interface ReplayResult {
  summary: ReplaySummary;
  engine: Engine;
  pipeline: FramePipeline;
  state: SystemState;
  header: CaptureHeader | null;
  /** The near-miss log, when `nearMisses` was asked for. */
  nearMisses: NearMissLog | null;
}

export async function runReplay(opts: ReplayOptions): Promise<ReplayResult> {
  const adapter = opts.adapter ?? binanceUsdm;
  let symbols: readonly string[];
  let from: ReplaySummary['symbols_from'];
  if (opts.symbols && opts.symbols.length > 0) {
    symbols = opts.symbols;
    from = 'option';
  } else {
    const found = await discoverSymbols(opts.files, adapter);
    if (found.symbols.length === 0) {
      throw new Error(`no trades found in ${opts.files.join(', ')}: nothing to replay (pass --symbols to replay other streams)`);
    }
    symbols = found.symbols;
    from = found.from;
  }
  const nearMisses = opts.nearMisses ? new NearMissLog(symbols) : null;
  const onWindow = withNearMisses(opts.onWindow, nearMisses);
  const deadLetters = opts.deadLetters;
  const pipeline = createPipeline({
    adapter,
    symbols,
    ...(onWindow ? { onWindow } : {}),
    ...(deadLetters ? { deadLetter: (d) => deadLetters.write(d) } : {}),
    beside: { books: opts.books !== false, policy: opts.policy !== false, ...(opts.onVerdict ? { onVerdict: opts.onVerdict } : {}) },
  });
  const engine = pipeline.engine;
  const beside = pipeline.beside;
  const state = new SystemState(engine, 'replay', 'REPLAY', {
    frames: pipeline.counters,
    warmStart: pipeline.warmStart.status,
    beside,
    ...(nearMisses ? { nearMisses } : {}),
  });
  state.ops.stage = 'OBSERVE';
  let frames = 0;
  let badLines = 0;
  let notCaptured = 0;
  let firstWatermark: number | null = null;
  let lastRecvMs = 0;
  let header: CaptureHeader | null = null;
  let nextCommit = -1;
  for await (const item of mergeCaptures(opts.files, opts.progress)) {
    if (item.kind === 'header') {
      header ??= item.header;
      continue;
    }
    if (item.kind === 'gap') {
      notCaptured += item.gap.frames;
      continue;
    }
    if (item.kind === 'bad') {
      badLines++;
      // A frame the live socket refused is counted under the reason live counted it by.
      const refused = item.reason.startsWith(REFUSED_PREFIX) ? item.reason.slice(REFUSED_PREFIX.length) : null;
      pipeline.reject(
        { recv_ms: 0, source: `capture:${opts.files[item.file]}:${item.line}`, reason: item.reason, raw: item.raw },
        refused ?? `capture_line:${item.reason}`,
      );
      // A replay may wait for the disk (the live collector never does): no dead letter is dropped.
      if (opts.deadLetters?.full) await opts.deadLetters.flush();
      continue;
    }
    frames++;
    const f = item.frame;
    lastRecvMs = f.recv_ms;
    pipeline.ingest(f, item.file);
    if (opts.deadLetters?.full) await opts.deadLetters.flush();
    if (firstWatermark === null && engine.watermark !== null) firstWatermark = engine.watermark;
    if (opts.onPromotion) for (const e of engine.takeNewPromotions()) opts.onPromotion(e);
    else engine.takeNewPromotions();
    if (beside !== null) {
      // The capture holds the snapshot bodies that were fetched: requests are only counted.
      beside.books?.takeRequests();
      if (beside.policy !== null) {
        const fresh = beside.policy.takeNewEvents();
        if (opts.onPolicyEvent) for (const e of fresh) opts.onPolicyEvent(e);
      }
    }
    if (opts.commitEveryMs !== undefined && f.recv_ms >= nextCommit) {
      const snap = state.commit(f.recv_ms);
      opts.onCommit?.(snap);
      nextCommit = f.recv_ms + opts.commitEveryMs;
    }
    opts.onFrame?.();
  }
  // A capture cut inside the warm start (the run stopped there): what it holds is fed, as the live run would have at its end marker.
  pipeline.flushWarmStart();
  if (opts.onPromotion) for (const e of engine.takeNewPromotions()) opts.onPromotion(e);
  await opts.deadLetters?.flush();
  state.ops.dead_letters = opts.deadLetters?.written ?? 0;
  if (opts.deadLetters) state.ops.dead_letter_stats = opts.deadLetters.stats();
  const summary = summarize(pipeline, { files: [...opts.files], symbolsFrom: from, frames, badLines, notCaptured, firstWatermark, lastRecvMs });
  return { summary, engine, pipeline, state, header, nearMisses };
}
