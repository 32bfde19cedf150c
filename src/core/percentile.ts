/**
 * Linear-interpolation percentile, Hyndman–Fan type 7 (NumPy's default), SPEC §5.2.
 * The legacy detector ran on NumPy, so this reproduces its thresholds bit for bit in principle.
 */

/** Percentile of an ascending-sorted array. `p` in [0, 100]. Throws on an empty input (a caller bug). */
export function percentileSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) throw new RangeError('percentile of an empty history: check warm-up before asking');
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile ${p} outside [0, 100]`);
  const h = ((n - 1) * p) / 100;
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  const xlo = sorted[lo] as number;
  const xhi = sorted[hi] as number;
  return xlo + (h - lo) * (xhi - xlo);
}

/** Percentile of unsorted values (copies, sorts numerically). */
export function percentile(values: ArrayLike<number>, p: number): number {
  const copy = Float64Array.from(values as ArrayLike<number>);
  copy.sort();
  return percentileSorted(copy, p);
}
