/**
 * The hot path of the hot path: a combined-stream trade frame read straight into its canonical
 * TradeEvent, validating as it reads — no JSON.parse, no payload object, no intermediate strings
 * but the symbol. It answers only for the exact shape Binance sends and only when the frame is
 * good:
 *   {"stream":"btcusdt@trade","data":{"e":"trade","E":…,"T":…,"s":"BTCUSDT","t":…,"p":"…","q":"…","X":"MARKET","m":false}}
 *   {"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":…,"a":…,"s":"BTCUSDT","p":"…","q":"…"[,"nq":"…"],"f":…,"l":…,"T":…,"m":true[,"st":…]}}
 * Anything else — another key order, a value the contract refuses, a non-MARKET trade, a stream
 * naming another symbol, a number it cannot convert exactly — returns null, and the general path
 * (./scan or JSON.parse, ./fastpath, ./parse) decides, so every rejection keeps its reason.
 * test/scan.test.ts checks on real frames and tens of thousands of mutations that whenever this
 * answers, the general path gives the very same event.
 *
 * What makes the shortcuts exact:
 * - integers of at most 15 digits are safe integers, and the running sum is exact;
 * - a decimal string of at most 15 digits is M·10^-k with M and 10^k exact doubles, and
 *   one IEEE division M / 10^k is correctly rounded, as `Number(string)` is: the same double
 *   (Clinger's fast path, which V8's own string-to-number conversion takes for these inputs);
 * - the symbol is [A-Z0-9]{2,30} (SYMBOL_RE without the `_` suffixes, which fall back), and the
 *   stream name's symbol part is compared to it in place, case-folded as streamNamesSymbol does.
 */
import type { TradeEvent } from '../core/contracts/canonical';
import { tradeEvent } from './parse';
import { CLOSE, ENVELOPE_HEAD, NINE, ZERO } from './scan';

const STREAM_HEAD = ENVELOPE_HEAD;
/** From the stream name's '@' to the payload's first value (the event time `E`). */
const RAW_HEAD = '@trade","data":{"e":"trade","E":';
const AGG_HEAD = '@aggTrade","data":{"e":"aggTrade","E":';

const DOT = 0x2e;

/** 10^0 … 10^15, all exact doubles. */
const POW10: readonly number[] = Array.from({ length: 16 }, (_, k) => 10 ** k);

// How it reads: each value ends where the literal that follows it in the exact shape begins, which
// `indexOf` (native, fast) finds; the value's characters are then checked and converted in one
// pass. A value region holding anything but its own kind of characters cannot contain the next
// literal, so a good check means the text is exactly the shape. Plain functions of (text, range):
// no reader object per frame, no state.

/** The JSON integer text[from, to) if it is 0 … 10^15 − 1 (a safe integer), else −1 (sign, fraction, leading zero, too long, empty). */
function intIn(text: string, from: number, to: number): number {
  const n = to - from;
  if (n <= 0 || n > 15 || (n > 1 && text.charCodeAt(from) === ZERO)) return -1;
  let v = 0;
  for (let i = from; i < to; i++) {
    const d = text.charCodeAt(i) - ZERO;
    if (!(d >= 0 && d <= 9)) return -1;
    v = v * 10 + d;
  }
  return v;
}

/**
 * Number(text.slice(from, to)) when that is a decimal matching DECIMAL_RE (`\d+(\.\d+)?`) of at most
 * 15 digits, else NaN. M / 10^k with both exact is correctly rounded, as Number() is: the same double.
 */
function decimalIn(text: string, from: number, to: number): number {
  if (to <= from) return Number.NaN;
  let m = 0;
  let dot = -1;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c === DOT) {
      if (dot >= 0 || i === from) return Number.NaN;
      dot = i;
    } else if (c >= ZERO && c <= NINE) {
      m = m * 10 + (c - ZERO);
    } else {
      return Number.NaN;
    }
  }
  const digits = to - from - (dot < 0 ? 0 : 1);
  if (digits === 0 || digits > 15 || dot === to - 1) return Number.NaN;
  return dot < 0 ? m : m / (POW10[to - dot - 1] as number);
}

/** Whether text[from, to) matches DECIMAL_RE (`\d+(\.\d+)?`), of any length (`nq` here, whose value is not used; depth levels). */
export function isDecimalIn(text: string, from: number, to: number): boolean {
  let dot = -1;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c === DOT) {
      if (dot >= 0 || i === from) return false;
      dot = i;
    } else if (!(c >= ZERO && c <= NINE)) {
      return false;
    }
  }
  return to > from && dot !== to - 1;
}

/**
 * Whether text[from, to) is a symbol ([A-Z0-9]{2,30}, SYMBOL_RE without the `_` suffixes, which go
 * the general way) that the stream name (text from 11 to `streamAt`, its '@') spells, case-folded
 * as streamNamesSymbol reads it.
 */
function symbolIn(text: string, from: number, to: number, streamAt: number): boolean {
  const len = to - from;
  if (len < 2 || len > 30 || streamAt - STREAM_HEAD.length !== len) return false;
  for (let i = 0; i < len; i++) {
    const c = text.charCodeAt(from + i);
    const letter = c >= 0x41 && c <= 0x5a;
    if (!(letter || (c >= ZERO && c <= NINE))) return false;
    const s = text.charCodeAt(STREAM_HEAD.length + i);
    if (s !== c && !(letter && s === c + 0x20)) return false;
  }
  return true;
}

/** 4 for `true` at `at`, 5 for `false`, 0 for anything else. */
function boolLength(text: string, at: number): number {
  if (text.charCodeAt(at) === 0x74) return text.startsWith('true', at) ? 4 : 0;
  return text.startsWith('false', at) ? 5 : 0;
}

/** Whether the payload's and the envelope's closing braces are at `at`, with nothing after them. */
function endsAt(text: string, at: number): boolean {
  return at + 2 === text.length && text.charCodeAt(at) === CLOSE && text.charCodeAt(at + 1) === CLOSE;
}

/** The next literal's index at or after `from`, or −1 (also when `from` is already −1). */
export function next(text: string, lit: string, from: number): number {
  return from < 0 ? -1 : text.indexOf(lit, from);
}

const AFTER_E_RAW = ',"T":';
const AFTER_T_RAW = ',"s":"';
const AFTER_S_RAW = '","t":';
const AFTER_ID_RAW = ',"p":"';
const AFTER_P = '","q":"';
const AFTER_Q_RAW = '","X":"MARKET","m":';

function rawTrade(text: string, streamAt: number, eAt: number, recvMs: number): TradeEvent | null {
  const eEnd = text.indexOf(AFTER_E_RAW, eAt);
  const tsAt = eEnd + AFTER_E_RAW.length;
  const tsEnd = next(text, AFTER_T_RAW, eEnd);
  const sAt = tsEnd + AFTER_T_RAW.length;
  const sEnd = next(text, AFTER_S_RAW, tsEnd);
  const tAt = sEnd + AFTER_S_RAW.length;
  const tEnd = next(text, AFTER_ID_RAW, sEnd);
  const pAt = tEnd + AFTER_ID_RAW.length;
  const pEnd = next(text, AFTER_P, tEnd);
  const qAt = pEnd + AFTER_P.length;
  // Only market fills are flow; any other X goes the general way (dropped there, and counted).
  const qEnd = next(text, AFTER_Q_RAW, pEnd);
  if (qEnd < 0) return null;
  const mAt = qEnd + AFTER_Q_RAW.length;
  const mLen = boolLength(text, mAt);
  if (mLen === 0 || !endsAt(text, mAt + mLen) || !symbolIn(text, sAt, sEnd, streamAt)) return null;
  const E = intIn(text, eAt, eEnd);
  const T = intIn(text, tsAt, tsEnd);
  const t = intIn(text, tAt, tEnd);
  const price = decimalIn(text, pAt, pEnd);
  const qty = decimalIn(text, qAt, qEnd);
  // E and T are epoch ms (positive); the price needs a non-zero digit; NaN fails every test.
  if (!(E > 0 && T > 0 && t >= 0 && price > 0 && qty >= 0)) return null;
  return tradeEvent(text.slice(sAt, sEnd), T, E, recvMs, 'trade', t, t, t, price, qty, mLen === 4);
}

const AFTER_E_AGG = ',"a":';
const AFTER_A = ',"s":"';
const AFTER_S_AGG = '","p":"';
const AFTER_Q_AGG = '","';
const AFTER_F = ',"l":';
const AFTER_L = ',"T":';
const AFTER_T_AGG = ',"m":';
const ST = ',"st":';

function aggTrade(text: string, streamAt: number, eAt: number, recvMs: number): TradeEvent | null {
  const eEnd = text.indexOf(AFTER_E_AGG, eAt);
  const aAt = eEnd + AFTER_E_AGG.length;
  const aEnd = next(text, AFTER_A, eEnd);
  const sAt = aEnd + AFTER_A.length;
  const sEnd = next(text, AFTER_S_AGG, aEnd);
  const pAt = sEnd + AFTER_S_AGG.length;
  const pEnd = next(text, AFTER_P, sEnd);
  const qAt = pEnd + AFTER_P.length;
  const qEnd = next(text, AFTER_Q_AGG, pEnd + 1);
  if (qEnd < 0) return null;
  // `nq` (2026-01) is checked for shape only, as the schema does; its value is not used.
  let fAt = qEnd + AFTER_Q_AGG.length;
  if (text.startsWith('nq":"', fAt)) {
    const nqEnd = text.indexOf('","', fAt + 5);
    if (nqEnd < 0 || !isDecimalIn(text, fAt + 5, nqEnd)) return null;
    fAt = nqEnd + AFTER_Q_AGG.length;
  }
  if (!text.startsWith('f":', fAt)) return null;
  fAt += 3;
  const fEnd = text.indexOf(AFTER_F, fAt);
  const lAt = fEnd + AFTER_F.length;
  const lEnd = next(text, AFTER_L, fEnd);
  const tsAt = lEnd + AFTER_L.length;
  const tsEnd = next(text, AFTER_T_AGG, lEnd);
  if (tsEnd < 0) return null;
  const mAt = tsEnd + AFTER_T_AGG.length;
  const mLen = boolLength(text, mAt);
  if (mLen === 0) return null;
  let end = mAt + mLen;
  // `st` (1 = USDⓈ-M) likewise for shape only; a negative one goes the general way.
  if (text.startsWith(ST, end)) {
    const stAt = end + ST.length;
    end = text.length - 2;
    if (intIn(text, stAt, end) < 0) return null;
  }
  if (!endsAt(text, end) || !symbolIn(text, sAt, sEnd, streamAt)) return null;
  const E = intIn(text, eAt, eEnd);
  const a = intIn(text, aAt, aEnd);
  const f = intIn(text, fAt, fEnd);
  const l = intIn(text, lAt, lEnd);
  const T = intIn(text, tsAt, tsEnd);
  const price = decimalIn(text, pAt, pEnd);
  const qty = decimalIn(text, qAt, qEnd);
  if (!(E > 0 && T > 0 && a >= 0 && f >= 0 && l >= 0 && price > 0 && qty >= 0)) return null;
  return tradeEvent(text.slice(sAt, sEnd), T, E, recvMs, 'agg', a, f, l, price, qty, mLen === 4);
}

/** The TradeEvent of a good trade frame in the exact exchange shape, or null (then the general path decides). */
export function scanTradeEvent(text: string, recvMs: number): TradeEvent | null {
  if (!text.startsWith(STREAM_HEAD)) return null;
  // The stream name's symbol part is whatever precedes the head; symbolIn checks it character by character.
  const raw = text.indexOf(RAW_HEAD, STREAM_HEAD.length);
  if (raw > 0) return rawTrade(text, raw, raw + RAW_HEAD.length, recvMs);
  const agg = text.indexOf(AGG_HEAD, STREAM_HEAD.length);
  if (agg > 0) return aggTrade(text, agg, agg + AGG_HEAD.length, recvMs);
  return null;
}
