/**
 * One symbol's published aggTrades, kept for `GET /fapi/v1/aggTrades`: every one sent since start,
 * and in front of them the market's past before start (SymbolFeed.prehistory), for a retention span.
 * Column-wise in typed arrays (about 50 bytes a trade, ~6 MB for ten symbols over 6 min), in id
 * order, which is also trade-time order; ids are consecutive, so a fromId is an index.
 */
import type { AggTrade } from './feed';

/** One row of `GET /fapi/v1/aggTrades`. */
export interface AggTradeRow {
  a: number;
  p: string;
  q: string;
  f: number;
  l: number;
  T: number;
  m: boolean;
}

export class AggHistory {
  private a = new Float64Array(1024);
  private f = new Float64Array(1024);
  private l = new Float64Array(1024);
  private T = new Float64Array(1024);
  private pU = new Float64Array(1024);
  private qU = new Float64Array(1024);
  private m = new Uint8Array(1024);
  private head = 0;
  private tail = 0;

  get size(): number {
    return this.tail - this.head;
  }

  push(x: AggTrade): void {
    if (this.tail === this.a.length) this.makeRoom();
    const i = this.tail;
    if (i > this.head && x.a !== (this.a[i - 1] as number) + 1) {
      throw new Error(`aggTrade ids must be consecutive: ${x.a} after ${this.a[i - 1] as number}`);
    }
    this.a[i] = x.a;
    this.f[i] = x.f;
    this.l[i] = x.l;
    this.T[i] = x.T;
    this.pU[i] = x.pU;
    this.qU[i] = x.qU;
    this.m[i] = x.m ? 1 : 0;
    this.tail++;
  }

  /**
   * Put `older` (consecutive ids, ending just before the first kept one) in front: the market
   * before start, made when it is first asked for.
   */
  prepend(older: readonly AggTrade[]): void {
    const first = older[0];
    const last = older[older.length - 1];
    if (first === undefined || last === undefined) return;
    if (this.size > 0 && last.a + 1 !== (this.a[this.head] as number)) {
      // The first request came after the retention had already pruned the oldest published
      // trades (a long run, a restarted client): the whole past is older still, so none of it is
      // listable. Only an overlap would be a bug.
      if (last.a + 1 < (this.a[this.head] as number)) return;
      throw new Error(`prepended aggTrades end at ${last.a}, the kept ones begin at ${this.a[this.head] as number}`);
    }
    const kept = new AggHistory();
    for (const x of older) kept.push(x);
    for (let i = this.head; i < this.tail; i++) kept.pushAt(this, i);
    this.a = kept.a;
    this.f = kept.f;
    this.l = kept.l;
    this.T = kept.T;
    this.pU = kept.pU;
    this.qU = kept.qU;
    this.m = kept.m;
    this.head = kept.head;
    this.tail = kept.tail;
  }

  private pushAt(src: AggHistory, i: number): void {
    this.push({
      a: src.a[i] as number,
      f: src.f[i] as number,
      l: src.l[i] as number,
      T: src.T[i] as number,
      pU: src.pU[i] as number,
      qU: src.qU[i] as number,
      m: src.m[i] === 1,
      E: 0,
      n: 0,
    });
  }

  /** Forget trades older than `t`. */
  pruneBefore(t: number): void {
    while (this.head < this.tail && (this.T[this.head] as number) < t) this.head++;
  }

  /** Index of the first trade with time ≥ t (tail when none). */
  private firstAtOrAfter(t: number): number {
    let lo = this.head;
    let hi = this.tail;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.T[mid] as number) < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * The indices [from, to) the exchange would list: from an id, from a time (up to an end time), the
   * newest ones up to an end time, or the newest ones; at most `limit`, oldest first.
   */
  select(q: { fromId?: number; startMs?: number; endMs?: number; limit: number }): { from: number; to: number } {
    let from: number;
    let end = this.tail;
    if (q.endMs !== undefined) end = this.firstAtOrAfter(q.endMs + 1);
    if (q.fromId !== undefined) {
      const first = this.size > 0 ? (this.a[this.head] as number) : 0;
      from = Math.min(this.tail, Math.max(this.head, this.head + (q.fromId - first)));
    } else if (q.startMs !== undefined) from = this.firstAtOrAfter(q.startMs);
    else from = Math.max(this.head, end - q.limit);
    const to = Math.max(from, Math.min(end, from + q.limit));
    return { from, to };
  }

  /** The REST rows of [from, to) in the exchange's key order, prices and sizes at the symbol's precisions. */
  rows(from: number, to: number, text: (pU: number, qU: number) => { p: string; q: string }): AggTradeRow[] {
    const rows: AggTradeRow[] = [];
    for (let i = from; i < to; i++) {
      const { p, q } = text(this.pU[i] as number, this.qU[i] as number);
      rows.push({ a: this.a[i] as number, p, q, f: this.f[i] as number, l: this.l[i] as number, T: this.T[i] as number, m: this.m[i] === 1 });
    }
    return rows;
  }

  /** Drop the forgotten head, and grow when more than half is still live. */
  private makeRoom(): void {
    const live = this.size;
    const cap = live * 2 > this.a.length ? this.a.length * 2 : this.a.length;
    const move = <A extends Float64Array | Uint8Array>(old: A, fresh: A): A => {
      fresh.set(old.subarray(this.head, this.tail));
      return fresh;
    };
    this.a = move(this.a, new Float64Array(cap));
    this.f = move(this.f, new Float64Array(cap));
    this.l = move(this.l, new Float64Array(cap));
    this.T = move(this.T, new Float64Array(cap));
    this.pU = move(this.pU, new Float64Array(cap));
    this.qU = move(this.qU, new Float64Array(cap));
    this.m = move(this.m, new Uint8Array(cap));
    this.head = 0;
    this.tail = live;
  }
}
