/**
 * The book "as of a window's end", deterministically (SPEC §17 pillar 4).
 *
 * A window [start, end) closes when the trade watermark passes end + grace, by which time the depth
 * stream has usually delivered diffs stamped after `end`. So the book cannot simply be read at
 * close. Instead, whenever a diff arrives whose event time `E` lies beyond the current window end
 * boundary, the book's measurement is taken *before* that diff is applied, and stored for every
 * window end it covers. A query for a window end at or after the boundary of the newest diff reads
 * the current book: every diff applied so far has `E ≤` that end.
 *
 * Only diff event times decide, never the order of arrival relative to trades, so a replay of the
 * same capture samples the same states. The state given is what the book knew from the frames
 * received by the window's close; a diff with `E ≤ end` received after the close cannot change it.
 */
import { RULES } from '../../core/constants';
import type { BookSample } from '../../core/policy/book-sample';

interface Entry {
  /** Window ends (ms) this sample answers for, inclusive. */
  from: number;
  to: number;
  sample: BookSample;
}

const NOT_SAMPLED: BookSample = Object.freeze({ live: false, reason: 'not_sampled' });

/** The smallest window end ≥ t. */
function windowEndAtOrAfter(t: number): number {
  return Math.ceil(t / RULES.WINDOW_MS) * RULES.WINDOW_MS;
}

export class AsOfSamples {
  private entries: Entry[] = [];
  /** Smallest window end ≥ the newest diff's E; null before the first diff. */
  private boundary: number | null = null;
  /** Samples dropped by the cap before anyone asked for them. */
  evicted = 0;

  constructor(private readonly cap: number) {}

  get size(): number {
    return this.entries.length;
  }

  /** Call with each diff's E before the diff is processed; `measure` reads the book as it is now. */
  advance(eventMs: number, measure: () => BookSample): void {
    const b = windowEndAtOrAfter(eventMs);
    if (this.boundary === null) {
      this.boundary = b;
      return;
    }
    if (b <= this.boundary) return;
    this.entries.push({ from: this.boundary, to: b - RULES.WINDOW_MS, sample: measure() });
    this.boundary = b;
    if (this.entries.length > this.cap) {
      this.entries.shift();
      this.evicted++;
    }
  }

  /** The book as of `windowEndMs`; `current` reads the book as it is now. */
  at(windowEndMs: number, current: () => BookSample): BookSample {
    if (this.boundary === null) return current();
    if (windowEndMs >= this.boundary) return current();
    const es = this.entries;
    for (let i = es.length - 1; i >= 0; i--) {
      const e = es[i] as Entry;
      if (e.from <= windowEndMs && windowEndMs <= e.to) return e.sample;
      if (e.to < windowEndMs) break;
    }
    return NOT_SAMPLED;
  }

  /** Forget samples that only answer for window ends before `windowEndMs` (windows already closed). */
  forgetBefore(windowEndMs: number): void {
    let n = 0;
    while (n < this.entries.length && (this.entries[n] as Entry).to < windowEndMs) n++;
    if (n > 0) this.entries.splice(0, n);
  }
}
