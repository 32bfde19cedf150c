/**
 * One side of an order book: price levels sorted best-last, with the exchange's decimal strings
 * kept for display and their numbers for ordering and notional.
 *
 * Keys are `Number(price)`. ECMAScript parses a decimal string to the nearest double, which is
 * monotone, and two decimals of at most 15 significant digits never round to the same double; so
 * keys order exactly like the decimals and never merge two levels, and "61800.2" and "61800.20"
 * are the same level, as they are on the exchange. `hasPriceKey` refuses anything longer (no Binance
 * price comes close). Keys are only ever compared, never computed by arithmetic.
 *
 * Best-last order (bids ascending, asks stored by −price ascending) puts the busy end of the book
 * at the end of the arrays, where an insert or delete moves few elements.
 */

export interface Level {
  /** Exactly as the exchange sent it. */
  readonly price: string;
  readonly p: number;
  qty: string;
  q: number;
}

/** Significant digits of a decimal string, ignoring leading zeros and trailing fractional zeros. */
function significantDigits(s: string): number {
  let first = -1;
  let last = -1;
  const dot = s.indexOf('.');
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x2e) continue;
    if (c !== 0x30 && first < 0) first = i;
    if (c !== 0x30 || dot < 0 || i < dot) last = i;
  }
  if (first < 0) return 0;
  let n = 0;
  for (let i = first; i <= last; i++) if (s.charCodeAt(i) !== 0x2e) n++;
  return n;
}

/** Whether a validated decimal price string has an exact key: at most 15 significant digits. */
export function hasPriceKey(price: string): boolean {
  // Up to 15 digits plus a dot cannot exceed 15 significant digits: the common case costs nothing.
  return !(price.length > 15 && !(price.length === 16 && price.includes('.')) && significantDigits(price) > 15);
}

/** 10^0 … 10^15, all exact doubles. */
const POW10: readonly number[] = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

/**
 * `Number(s)` for a decimal string, without the runtime's string-to-number call (the largest cost of
 * applying a diff): with at most 15 digits, s is M·10^-k with M and 10^k exact doubles, and one IEEE
 * division M / 10^k is correctly rounded, as Number() is — the same double (Clinger's fast path).
 * Anything longer, or not `\d+(\.\d+)?`-like, is left to Number().
 */
export function decimalValue(s: string): number {
  const n = s.length;
  if (n === 0 || n > 16) return Number(s);
  let m = 0;
  let dot = -1;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x2e && dot < 0 && i > 0 && i < n - 1) dot = i;
    else if (c >= 0x30 && c <= 0x39) m = m * 10 + (c - 0x30);
    else return Number(s);
  }
  if (dot < 0) return n > 15 ? Number(s) : m;
  return m / (POW10[n - dot - 1] as number);
}

export class BookSide {
  /** Ascending; the best level is last. */
  private keys: number[] = [];
  private levels: Level[] = [];

  /** `1` for bids (best = highest), `-1` for asks (best = lowest). */
  constructor(private readonly sign: 1 | -1) {}

  get size(): number {
    return this.keys.length;
  }

  clear(): void {
    this.keys = [];
    this.levels = [];
  }

  /** First index whose key is ≥ k. */
  private lowerBound(k: number): number {
    const keys = this.keys;
    let lo = 0;
    let hi = keys.length;
    // The busy end is last: check it before searching.
    if (hi > 0 && (keys[hi - 1] as number) < k) return hi;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((keys[mid] as number) < k) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Absolute quantity for a price (BINANCE.md §8.6): zero deletes, deleting an absent level is normal. */
  set(price: string, p: number, qty: string, q: number): void {
    const k = this.sign * p;
    const i = this.lowerBound(k);
    const present = i < this.keys.length && this.keys[i] === k;
    if (q === 0) {
      if (present) {
        this.keys.splice(i, 1);
        this.levels.splice(i, 1);
      }
      return;
    }
    if (present) {
      const lv = this.levels[i] as Level;
      lv.qty = qty;
      lv.q = q;
      return;
    }
    this.keys.splice(i, 0, k);
    this.levels.splice(i, 0, { price, p, qty, q });
  }

  /** Replace the whole side (a snapshot). Later duplicates of a price win; zero quantities are skipped. */
  load(levels: readonly Level[]): void {
    const sorted = levels.filter((l) => l.q !== 0).sort((a, b) => this.sign * a.p - this.sign * b.p);
    const keys: number[] = [];
    const out: Level[] = [];
    for (const lv of sorted) {
      const k = this.sign * lv.p;
      if (keys.length > 0 && keys[keys.length - 1] === k) out[out.length - 1] = { ...lv };
      else {
        keys.push(k);
        out.push({ ...lv });
      }
    }
    this.keys = keys;
    this.levels = out;
  }

  best(): Level | undefined {
    return this.levels[this.levels.length - 1];
  }

  /** Drop levels worse than `limit` (bids below it, asks above it); returns how many. */
  pruneWorseThan(limit: number): number {
    const n = this.lowerBound(this.sign * limit);
    if (n > 0) {
      this.keys.splice(0, n);
      this.levels.splice(0, n);
    }
    return n;
  }

  /** Σ price × quantity of the levels at `limit` or better (bids ≥ limit, asks ≤ limit). */
  notionalWithin(limit: number): number {
    const k = this.sign * limit;
    let sum = 0;
    for (let i = this.keys.length - 1; i >= 0 && (this.keys[i] as number) >= k; i--) {
      const lv = this.levels[i] as Level;
      sum += lv.p * lv.q;
    }
    return sum;
  }

  /** Levels best first (copies: tests, display). */
  bestFirst(limit = this.levels.length): Level[] {
    const out: Level[] = [];
    for (let i = this.levels.length - 1; i >= 0 && out.length < limit; i--) out.push({ ...(this.levels[i] as Level) });
    return out;
  }
}
