/** Small statistics helpers: medians of run figures and nearest-rank percentiles of samples. */

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Nearest-rank percentile of an ascending array (p in 0..100). */
export function percentileOfSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const rank = Math.min(n, Math.max(1, Math.ceil((p / 100) * n)));
  return sorted[rank - 1] as number;
}

export interface Distribution {
  n: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/** Distribution of samples (any unit); sorts a copy. */
export function distribution(samples: ArrayLike<number>, count = samples.length): Distribution {
  const s = Float64Array.from({ length: count }, (_, i) => samples[i] as number).sort();
  let sum = 0;
  for (let i = 0; i < count; i++) sum += s[i] as number;
  return {
    n: count,
    mean: count > 0 ? sum / count : Number.NaN,
    p50: percentileOfSorted(s, 50),
    p90: percentileOfSorted(s, 90),
    p99: percentileOfSorted(s, 99),
    p999: percentileOfSorted(s, 99.9),
    max: count > 0 ? (s[count - 1] as number) : Number.NaN,
  };
}

/** A distribution scaled to another unit (e.g. ns → µs), rounded for the JSON file. */
export function scaled(d: Distribution, divisor: number, digits = 3): { [k in keyof Distribution]: number } {
  const r = (x: number): number => Number((x / divisor).toFixed(digits));
  return { n: d.n, mean: r(d.mean), p50: r(d.p50), p90: r(d.p90), p99: r(d.p99), p999: r(d.p999), max: r(d.max) };
}

/** Fixed-point with thousands separators (1234567.8 → "1,234,568"). */
export function fmtInt(x: number): string {
  return Math.round(x).toLocaleString('en-US');
}

export function fmt(x: number, digits: number): string {
  return Number.isFinite(x) ? x.toFixed(digits) : String(x);
}

/**
 * Several repeated measurements of one thing combined robustly: each percentile and the mean is
 * the median over the repeats (one repeat disturbed by another process on the core does not set
 * the figure), the maximum is the maximum over all of them, n is the total.
 */
export function combineRepeats(ds: readonly Distribution[]): Distribution {
  const m = (k: 'mean' | 'p50' | 'p90' | 'p99' | 'p999'): number => median(ds.map((d) => d[k]));
  return {
    n: ds.reduce((s, d) => s + d.n, 0),
    mean: m('mean'),
    p50: m('p50'),
    p90: m('p90'),
    p99: m('p99'),
    p999: m('p999'),
    max: Math.max(...ds.map((d) => d.max)),
  };
}
