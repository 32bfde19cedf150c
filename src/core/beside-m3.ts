/**
 * What runs beside M3 (SPEC Part II §17–§19): the order books, policy `four-pillars-001` and the
 * liquidation tape, over the same frames and the same closed windows as M3, never inside it.
 *
 * Wiring (the frame pipeline does it, ./pipeline): every frame goes to the books before M3 sees it
 * (M3's normalizer counts depth as ignored, so its counters do not change); right after M3 judged
 * a window, the policy judges it with the book as of that window's end, and that symbol's book
 * forgets older samples; a liquidation the engine accepted (its duplicate check passed) goes to the
 * policy's retention and to the tape, whose window follows the watermark. M3 reads none of this:
 * with all of it on or off, M3's events and counters are byte-identical.
 *
 * Exchange-neutral: the books come from the adapter (`ExchangeAdapter.books`) behind ./books.
 */
import type { BookFrameResult, OrderBooks } from './books';
import { RULES } from './constants';
import type { CanonicalEvent } from './contracts/canonical';
import type { Engine } from './engine';
import { LiquidationTape } from './liquidation-tape';
import type { BookAsOf, BookSample } from './policy/book-sample';
import { FourPillarsPolicy, type PolicyVerdict } from './policy/four-pillars';
import type { Frame } from './source';
import type { ClosedWindow } from './symbol-detector';

export interface BesideM3Options {
  symbols: readonly string[];
  /** The adapter's books; null: none kept, and every window the policy takes to pillar 4 is `book_unavailable`. */
  books: OrderBooks | null;
  /** Run policy `four-pillars-001`. */
  policy: boolean;
  /** Sees every policy verdict (tests, inspection). */
  onVerdict?: (v: PolicyVerdict) => void;
}

const NO_BOOKS: BookAsOf = { sampleAt: (): BookSample => ({ live: false, reason: 'not_sampled' }) };

export class BesideM3 {
  readonly books: OrderBooks | null;
  readonly policy: FourPillarsPolicy | null;
  readonly tape: LiquidationTape;
  /** Liquidations the engine took so far, per symbol: a rise after an event means it accepted that one. */
  private readonly liquidationsSeen = new Map<string, number>();

  constructor(opts: BesideM3Options) {
    this.books = opts.books;
    this.policy = opts.policy ? new FourPillarsPolicy({ symbols: opts.symbols, ...(opts.onVerdict ? { onVerdict: opts.onVerdict } : {}) }) : null;
    this.tape = new LiquidationTape(opts.symbols);
  }

  /** The books' share of a frame, before M3 sees it; null when no books are kept. */
  frame(frame: Frame, file: number): BookFrameResult | null {
    return this.books === null ? null : this.books.ingestFrame(frame, file);
  }

  /** An event the engine was just given. */
  afterEvent(ev: CanonicalEvent, engine: Engine): void {
    if (ev.type === 'LIQUIDATION') {
      const taken = engine.detector(ev.symbol)?.counters.liquidations;
      if (taken !== undefined && taken > (this.liquidationsSeen.get(ev.symbol) ?? 0)) {
        this.liquidationsSeen.set(ev.symbol, taken);
        this.policy?.addLiquidation(ev);
        this.tape.add(ev);
      }
    }
    if (engine.watermark !== null) this.tape.advanceTo(engine.watermark);
  }

  /** The engine's window hook: M3 has just judged `w`, closed by watermark `watermarkMs`. */
  windowClosed(w: ClosedWindow, watermarkMs: number): void {
    this.policy?.onWindow(w, this.books ?? NO_BOOKS, watermarkMs);
    this.books?.forgetSamplesBefore(w.window_start_ms + RULES.WINDOW_MS, w.symbol);
  }
}
