/**
 * Exact decimal strings from integer units. Quantities are summed as integers (units of the last
 * decimal place) so an aggregated `q` keeps the exchange's precision instead of float noise.
 */

const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12];

export function pow10(d: number): number {
  const p = POW10[d];
  if (p === undefined) throw new Error(`unsupported decimal count ${d}`);
  return p;
}

/** Number of digits after the dot in a decimal string. */
export function decimalsOf(s: string): number {
  const dot = s.indexOf('.');
  return dot < 0 ? 0 : s.length - dot - 1;
}

/** "61800.30" at 2 decimals → 6180030. Digits beyond `d` are truncated (never seen in real data). */
export function toUnits(s: string, d: number): number {
  const dot = s.indexOf('.');
  const whole = dot < 0 ? s : s.slice(0, dot);
  let frac = dot < 0 ? '' : s.slice(dot + 1);
  if (frac.length > d) frac = frac.slice(0, d);
  else frac = frac.padEnd(d, '0');
  return Number(whole) * pow10(d) + (d > 0 ? Number(frac) : 0);
}

/** 6180030 at 2 decimals → "61800.30". `n` must be a non-negative safe integer. */
export function fromUnits(n: number, d: number): string {
  const s = String(n);
  if (d === 0) return s;
  const padded = s.length <= d ? '0'.repeat(d - s.length + 1) + s : s;
  const cut = padded.length - d;
  return `${padded.slice(0, cut)}.${padded.slice(cut)}`;
}

/** A positive float as a fixed decimal string (toFixed never uses an exponent below 1e21). */
export function fixed(x: number, d: number): string {
  return (x > 0 && Number.isFinite(x) ? x : 0).toFixed(d);
}
