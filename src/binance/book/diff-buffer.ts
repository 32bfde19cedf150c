/**
 * The diffs a book holds while it waits for a snapshot (SYNCING, RESYNCING), packed. A parsed diff
 * keeps every level as a two-string tuple: about 130 bytes of heap a level, ~7.5 KB for a 58-level
 * diff of the recorded `@depth@0ms` data. Ten books waiting with full buffers (the snapshots queue
 * behind the warm start's pages) held 45 MB of a 50 MB live worker heap (heap snapshot of the
 * memory-day rig, books on). Packed — each side's levels joined into one flat string — a level
 * costs its characters plus a separator, ~4× less (test/diff-buffer.test.ts), and unpacking gives back the very same strings,
 * so the book applies exactly what it would have.
 *
 * Bounded twice: by diffs (flowsurface's 512) and by levels, since a diff's size is the exchange's
 * choice (a busy `@depth@100ms` diff carries hundreds of levels); beyond either the oldest diffs go
 * (counted by the book). The newest diff always stays.
 */
import { BOOK } from './constants';
import { dueForCompaction } from '../../core/front-pruned';
import type { DepthUpdate } from './contracts';

/** Not in a decimal string (DECIMAL_RE: digits and one dot), so it cannot split a price. */
const SEP = ' ';

interface PackedDiff {
  E: number;
  T: number;
  s: string;
  U: number;
  u: number;
  pu: number;
  /** `price SEP qty SEP price …`; '' for no levels. */
  b: string;
  a: string;
  levels: number;
}

function pack(levels: readonly (readonly [string, string])[]): string {
  const flat = new Array<string>(levels.length * 2);
  for (let i = 0; i < levels.length; i++) {
    const lv = levels[i] as readonly [string, string];
    flat[2 * i] = lv[0];
    flat[2 * i + 1] = lv[1];
  }
  // join makes one flat string; `+=` would build a rope of cons strings, larger than the tuples.
  return flat.join(SEP);
}

function unpack(s: string): [string, string][] {
  if (s === '') return [];
  const flat = s.split(SEP);
  const out = new Array<[string, string]>(flat.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = [flat[2 * i] as string, flat[2 * i + 1] as string];
  return out;
}

export interface DiffBufferLimits {
  maxDiffs: number;
  maxLevels: number;
}

export class DiffBuffer {
  private items: PackedDiff[] = [];
  /** Index of the oldest kept item (dropping from the front without shifting the array each time). */
  private head = 0;
  private levelsHeld = 0;

  constructor(private readonly limits: DiffBufferLimits = { maxDiffs: BOOK.MAX_BUFFERED_DIFFS, maxLevels: BOOK.MAX_BUFFERED_LEVELS }) {}

  get length(): number {
    return this.items.length - this.head;
  }

  /** Levels held, both sides. */
  get levels(): number {
    return this.levelsHeld;
  }

  /** Keep `d`; returns how many of the oldest diffs the bounds pushed out. */
  push(d: DepthUpdate): number {
    const levels = d.b.length + d.a.length;
    this.items.push({ E: d.E, T: d.T, s: d.s, U: d.U, u: d.u, pu: d.pu, b: pack(d.b), a: pack(d.a), levels });
    this.levelsHeld += levels;
    let dropped = 0;
    while (this.length > 1 && (this.length > this.limits.maxDiffs || this.levelsHeld > this.limits.maxLevels)) {
      this.levelsHeld -= (this.items[this.head] as PackedDiff).levels;
      this.head++;
      dropped++;
    }
    // Dropped diffs stay referenced until compaction: the shared rule keeps them to ~the live ones.
    if (dueForCompaction(this.head, this.items.length)) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return dropped;
  }

  /** The held diffs, oldest first, each unpacked as it is taken; the buffer is empty from this call on. */
  take(): Iterable<DepthUpdate> {
    const items = this.items;
    const from = this.head;
    this.clear();
    return (function* (): Generator<DepthUpdate> {
      for (let i = from; i < items.length; i++) {
        const p = items[i] as PackedDiff;
        yield { e: 'depthUpdate', E: p.E, T: p.T, s: p.s, U: p.U, u: p.u, pu: p.pu, b: unpack(p.b), a: unpack(p.a) };
      }
    })();
  }

  clear(): void {
    this.items = [];
    this.head = 0;
    this.levelsHeld = 0;
  }
}
