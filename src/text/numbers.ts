/**
 * Numbers as text without `Intl`. The first `Intl.NumberFormat` or `toLocaleString` of a process
 * pages in about 5 MB of ICU data from the node binary (measured with /proc/self/smaps: 35.9 →
 * 41.2 MB of /usr/bin/node resident; in the collector process 1.1 → 5.5 MB of ICU data pages),
 * for what is only thousands separators and fixed decimals here. Used by the window and by the
 * collector's console lines and daily summary, so neither process pays for it. The results equal
 * `toLocaleString('en-US', …)` for finite numbers below 1e21, except that a value rounding to zero
 * has no minus sign. Like ICU, rounding is half away from zero on the shortest decimal form of the
 * number (1.005 → "1.01"; `toFixed` would round the binary value 1.00499… to "1.00").
 */

/** Thousands separators into the integer digits of a plain decimal string ("-1234.5" → "-1,234.5"). */
function group(plain: string): string {
  const neg = plain.startsWith('-');
  const body = neg ? plain.slice(1) : plain;
  const dot = body.indexOf('.');
  const int = dot < 0 ? body : body.slice(0, dot);
  const frac = dot < 0 ? '' : body.slice(dot);
  if (int.length <= 3) return plain;
  let out = int.slice(0, int.length % 3 || 3);
  for (let i = out.length; i < int.length; i += 3) out += `,${int.slice(i, i + 3)}`;
  return `${neg ? '-' : ''}${out}${frac}`;
}

/** The shortest decimal form of x ≥ 0 as digits and a point position: x = 0.d1d2… × 10^point. */
function decimalDigits(x: number): { digits: string; point: number } {
  const [mant = '0', exp = '0'] = String(x).split('e');
  const dot = mant.indexOf('.');
  const int = dot < 0 ? mant : mant.slice(0, dot);
  let digits = dot < 0 ? mant : int + mant.slice(dot + 1);
  let point = int.length + Number(exp);
  while (digits.length > 1 && digits.startsWith('0')) {
    digits = digits.slice(1);
    point--;
  }
  return { digits, point };
}

/** Digits rounded half up at `keep` digits (keep ≥ 0); returns the new digits and point. */
function roundDigits(digits: string, point: number, keep: number): { digits: string; point: number } {
  if (keep >= digits.length) return { digits: digits.padEnd(keep, '0'), point };
  let head = digits.slice(0, keep);
  if ((digits.charCodeAt(keep) ?? 48) >= 53 /* '5' */) {
    const bumped = (BigInt(head || '0') + 1n).toString();
    if (bumped.length > keep) return { digits: bumped, point: point + 1 };
    head = bumped.padStart(keep, '0');
  }
  return { digits: head, point };
}

/** Thousands separators with a fixed number of decimals: 43127.5, 2 → "43,127.50". */
export function formatFixed(n: number, decimals: number): string {
  if (!Number.isFinite(n) || Math.abs(n) >= 1e21) return String(n);
  const parsed = decimalDigits(Math.abs(n));
  const keep = parsed.point + decimals;
  // Now value = 0.digits × 10^point with exactly point + decimals digits.
  const { digits, point } = keep < 0 ? { digits: '', point: -decimals } : roundDigits(parsed.digits, parsed.point, keep);
  const int = point > 0 ? digits.slice(0, point) : '0';
  const frac = point > 0 ? digits.slice(point) : '0'.repeat(-point) + digits;
  const plain = decimals > 0 ? `${int}.${frac}` : int;
  // A value that rounds to zero prints without a sign ("-0.00" says nothing a reader needs).
  return group(n < 0 && /[1-9]/.test(digits) ? `-${plain}` : plain);
}

/** 14523 → "14,523" (rounded half away from zero, as Intl does). */
export function formatInt(n: number): string {
  return formatFixed(n, 0);
}
