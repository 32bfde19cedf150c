/**
 * The one frame pipeline: frame → adapter → engine, with every outcome counted and every unusable
 * input dead-lettered. Live (the collector), replay, tests and benchmarks all push frames through
 * this class, so a capture replays through exactly the code that recorded it.
 */
import type { Engine } from './engine';
import type { DeadLetter, ExchangeAdapter, Frame, FrameOutcome, FrameResult } from './source';

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
    frame_outcomes: { event: 0, ignored: 0, dropped: 0, malformed: 0 },
    malformed_events: 0,
    ignored_frames: 0,
    malformed_by_reason: {},
    ignored_by_kind: {},
  };
}

export type DeadLetterSink = (letter: DeadLetter) => void;

export class FramePipeline {
  readonly counters: FrameCounters = emptyFrameCounters();

  constructor(
    readonly adapter: ExchangeAdapter,
    readonly engine: Engine,
    private readonly deadLetter: DeadLetterSink = () => {},
  ) {}

  /**
   * One received frame: normalize, count its outcome, feed any event to the engine, dead-letter it
   * when malformed. Bad input never throws; the engine's InvariantError does (the caller stops).
   */
  ingest(frame: Frame): FrameResult {
    const c = this.counters;
    c.frames_received++;
    const r = this.adapter.normalize(frame);
    c.frame_outcomes[r.kind]++;
    switch (r.kind) {
      case 'event':
        this.engine.ingest(r.event);
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
