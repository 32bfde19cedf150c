/**
 * The one frame pipeline: frame → adapter → engine, with every outcome counted and every unusable
 * input dead-lettered; and, when given one, the books, policy and tape beside M3 (./beside-m3) over
 * the same frames. Live (the collector), replay, tests and benchmarks all push frames through this
 * class, so a capture replays through exactly the code that recorded it.
 */
import { BesideM3 } from './beside-m3';
import type { OrderBooks } from './books';
import { PILLARS } from './policy/constants';
import type { PolicyVerdict } from './policy/four-pillars';
import type { KlineSource } from './contracts/vocabulary';
import type { CanonicalEvent } from './contracts/canonical';
import { WarmStartMarkerSchema } from './contracts/warm-start';
import { Engine } from './engine';
import { type DeadLetter, type ExchangeAdapter, type Frame, type FrameOutcome, type FrameResult, LOCAL_SOURCE_PREFIX } from './source';
import type { ClosedWindow } from './symbol-detector';
import { WARM_START_SOURCE, WarmStart } from './warm-start';

export interface FrameCounters {
  frames_received: number;
  /** Every frame has exactly one outcome: frames_received = Σ frame_outcomes. */
  frame_outcomes: Record<FrameOutcome, number>;
  /** Malformed frames plus inputs refused before they were frames (socket-refused, unreadable capture lines). */
  malformed_events: number;
  ignored_frames: number;
  /** Malformed inputs by reason class (text before the first ':'). */
  malformed_by_reason: Record<string, number>;
  /** Ignored frames by kind (bookTicker, depth, control, rest:*). */
  ignored_by_kind: Record<string, number>;
}

export function emptyFrameCounters(): FrameCounters {
  return {
    frames_received: 0,
    frame_outcomes: { event: 0, history: 0, ignored: 0, dropped: 0, malformed: 0 },
    malformed_events: 0,
    ignored_frames: 0,
    malformed_by_reason: {},
    ignored_by_kind: {},
  };
}

export type DeadLetterSink = (letter: DeadLetter) => void;

const LOCAL_FRAME: FrameResult = Object.freeze({ kind: 'ignored', what: 'local' });

export class FramePipeline {
  readonly counters: FrameCounters = emptyFrameCounters();
  /** The warm start (SPEC §20, ./warm-start): OFF unless the frames contain its begin marker. */
  readonly warmStart: WarmStart;

  constructor(
    readonly adapter: ExchangeAdapter,
    readonly engine: Engine,
    private readonly deadLetter: DeadLetterSink = () => {},
    /** Books, policy and tape beside M3; its window hook must be wired into `engine` (createPipeline does both). */
    readonly beside: BesideM3 | null = null,
  ) {
    this.warmStart = new WarmStart(engine.symbols);
  }

  /**
   * One received frame: the books' share first (a malformed depth frame is dead-lettered), then
   * normalize, count its outcome, feed any event to the engine (and beside it), dead-letter it when
   * malformed. Bad input never throws; the engine's InvariantError does (the caller stops). `file`
   * is the capture file a replayed frame came from (foreign REST depth bodies are attributed by it).
   * While a warm start runs, events are counted now and fed (to the engine, then beside it) at its
   * end marker.
   */
  ingest(frame: Frame, file = 0): FrameResult {
    const b = this.beside;
    if (b !== null) {
      const d = b.frame(frame, file);
      if (d !== null && d.kind === 'malformed') this.deadLetter({ recv_ms: frame.recv_ms, source: frame.source, reason: d.reason, raw: frame.text });
    }
    const c = this.counters;
    c.frames_received++;
    // The collector's own records: warm-start markers begin and end that phase; the others
    // (connection opened) are for the books: counted as ignored frames (they are in the capture), never normalized.
    const r =
      frame.source === WARM_START_SOURCE ? this.marker(frame) : frame.source.startsWith(LOCAL_SOURCE_PREFIX) ? LOCAL_FRAME : this.adapter.normalize(frame);
    c.frame_outcomes[r.kind]++;
    switch (r.kind) {
      case 'event':
        if (!this.warmStart.open) {
          this.engine.ingest(r.event);
          if (b !== null) b.afterEvent(r.event, this.engine);
        } else if (this.warmStart.hold(r.event)) this.finishWarmStart({});
        break;
      case 'history':
        this.warmStart.page(r.page);
        break;
      case 'ignored':
        c.ignored_frames++;
        c.ignored_by_kind[r.what] = (c.ignored_by_kind[r.what] ?? 0) + 1;
        break;
      case 'dropped':
        this.engine.noteDropped(r.symbol, r.reason);
        break;
      case 'malformed':
        this.reject({ recv_ms: frame.recv_ms, source: frame.source, reason: r.reason, raw: frame.text });
        break;
    }
    return r;
  }

  /** A warm-start marker frame (the collector's own record): begin or end the phase. */
  private marker(frame: Frame): FrameResult {
    let raw: unknown;
    try {
      raw = JSON.parse(frame.text);
    } catch {
      return { kind: 'malformed', reason: 'warm_start_marker: not JSON' };
    }
    const m = WarmStartMarkerSchema.safeParse(raw);
    if (!m.success) {
      const issue = m.error.issues[0];
      return { kind: 'malformed', reason: `warm_start_marker: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid'}` };
    }
    const w = this.warmStart;
    if (m.data.warm_start === 'begin') return { kind: 'ignored', what: w.begin(m.data.span_ms) ? 'warm_start:begin' : 'warm_start:repeated' };
    if (!w.open) return { kind: 'ignored', what: w.status.state === 'DONE' ? 'warm_start:end_after_finish' : 'warm_start:end_without_begin' };
    this.finishWarmStart(m.data.failed);
    return { kind: 'ignored', what: 'warm_start:end' };
  }

  /** The held live events go to the engine in order, and each to the books/policy/tape after it. */
  private finishWarmStart(failed: Parameters<WarmStart['finish']>[1]): void {
    const b = this.beside;
    this.warmStart.finish(this.engine, failed, b === null ? undefined : (ev) => b.afterEvent(ev, this.engine));
  }

  /** End a warm start whose end marker never came (a capture cut short): feed what it holds. */
  flushWarmStart(): void {
    this.finishWarmStart({});
  }

  /** One canonical event that did not arrive as a frame (tests, sources that are not frames). */
  ingestEvent(ev: CanonicalEvent): void {
    this.engine.ingest(ev);
    this.beside?.afterEvent(ev, this.engine);
  }

  /**
   * Count an unusable input and dead-letter it. Also for inputs that never became frames (a frame
   * the socket refused, an unreadable capture line); `countAs` is the reason counted when it differs
   * from the letter's.
   */
  reject(letter: DeadLetter, countAs: string = letter.reason): void {
    const c = this.counters;
    c.malformed_events++;
    const colon = countAs.indexOf(':');
    const cls = colon > 0 ? countAs.slice(0, colon) : countAs;
    c.malformed_by_reason[cls] = (c.malformed_by_reason[cls] ?? 0) + 1;
    this.deadLetter(letter);
  }
}

export interface PipelineOptions {
  adapter: ExchangeAdapter;
  /** The allow-list, in rank order. */
  symbols: readonly string[];
  klineSource?: KlineSource;
  /** Sees every closed window, before the policy judges it. */
  onWindow?: (w: ClosedWindow) => void;
  deadLetter?: DeadLetterSink;
  /**
   * What runs beside M3 (default: books where the adapter keeps them, the policy and the tape);
   * false: M3 alone, exactly the pipeline without them. `books` may be books the caller made (the
   * live collector keeps the adapter's concrete type to drive its snapshot requests).
   */
  beside?: false | { books?: boolean | OrderBooks; policy?: boolean; onVerdict?: (v: PolicyVerdict) => void };
}

/** Engine + frame pipeline (+ books, policy and tape beside M3), wired: the one way to build them together. */
export function createPipeline(opts: PipelineOptions): FramePipeline {
  const b = opts.beside ?? {};
  const beside =
    b === false
      ? null
      : new BesideM3({
          symbols: opts.symbols,
          books:
            b.books === false
              ? null
              : typeof b.books === 'object'
                ? b.books
                : (opts.adapter.books?.({ symbols: opts.symbols, sampleDepthBps: PILLARS.DEPTH_BAND_BPS }) ?? null),
          policy: b.policy !== false,
          ...(b.onVerdict ? { onVerdict: b.onVerdict } : {}),
        });
  const hook = opts.onWindow;
  const engine: Engine = new Engine({
    symbols: opts.symbols,
    ...(opts.klineSource ? { klineSource: opts.klineSource } : {}),
    ...(beside === null
      ? hook
        ? { onWindow: hook }
        : {}
      : {
          onWindow: (w: ClosedWindow): void => {
            hook?.(w);
            beside.windowClosed(w, engine.watermark as number);
          },
        }),
  });
  return new FramePipeline(opts.adapter, engine, opts.deadLetter, beside);
}
