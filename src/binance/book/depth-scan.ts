/**
 * The depth diff read straight from the frame text, validating as it reads: no JSON.parse of the
 * whole frame, no envelope object, no regular expression per price and quantity. Depth is the
 * largest stream (a diff carries tens to hundreds of levels), and JSON.parse plus the validator was
 * most of the collector's book time. It answers only for the exact shape Binance sends:
 *   {"e":"depthUpdate","E":…,"T":…,"s":"BTCUSDT","U":…,"u":…,"pu":…,"b":[["61800.10","0.5"],…],"a":[…]}
 * optionally followed by flat extra fields (`"st":1,"ps":"BTCUSDT"`, which the loose schema allows
 * and nothing reads). Anything else — another key order, whitespace, escapes, a nested extra, a
 * repeated key, a value the contract refuses, an integer of more than 15 digits — returns null, and
 * the general path (JSON.parse, then isDepthUpdate, then the schema for the reason) decides, so
 * every rejection keeps its reason. test/depth-scan.test.ts checks on real diffs and tens of
 * thousands of mutations that whenever this answers, JSON.parse + isDepthUpdate accept the frame
 * and give the same diff.
 *
 * What makes it exact: a value region holding only its own kind of characters cannot contain the
 * literal that follows it, so finding that literal with `indexOf` and checking the characters in
 * between proves the text has the shape; integers of at most 15 digits are safe integers.
 */
import type { DepthUpdate } from './contracts';
import { plainStringEnd } from '../scan';
import { isDecimalIn, next } from '../trade-scan';

const QUOTE = 0x22;
const COMMA = 0x2c;
const MINUS = 0x2d;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const BACKSLASH = 0x5c;
const CLOSE = 0x7d;

const HEAD = '{"e":"depthUpdate","E":';
const AFTER_E = ',"T":';
const AFTER_T = ',"s":"';
const AFTER_S = '","U":';
const AFTER_U = ',"u":';
const AFTER_LOWER_U = ',"pu":';
const AFTER_PU = ',"b":';
const BEFORE_ASKS = ',"a":';
/** Keys of the diff: an extra field repeating one would override it in JSON.parse, so it goes the general way. */
const KNOWN_KEYS: ReadonlySet<string> = new Set(['e', 'E', 'T', 's', 'U', 'u', 'pu', 'b', 'a']);

/** The JSON integer text[from, to) if it is −(10^15 − 1) … 10^15 − 1 (a safe integer), else NaN (fraction, exponent, leading zero, too long, empty). */
function intIn(text: string, from: number, to: number): number {
  const negative = text.charCodeAt(from) === MINUS;
  const start = negative ? from + 1 : from;
  const n = to - start;
  if (n <= 0 || n > 15 || (n > 1 && text.charCodeAt(start) === ZERO)) return Number.NaN;
  let v = 0;
  for (let i = start; i < to; i++) {
    const d = text.charCodeAt(i) - ZERO;
    if (!(d >= 0 && d <= 9)) return Number.NaN;
    v = v * 10 + d;
  }
  return negative ? -v : v;
}

/** Whether text[from, to) is [A-Z0-9]{2,30} (SYMBOL_RE without its `_` suffixes, which go the general way). */
function isPlainSymbolIn(text: string, from: number, to: number): boolean {
  const len = to - from;
  if (len < 2 || len > 30) return false;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (!((c >= 0x41 && c <= 0x5a) || (c >= ZERO && c <= NINE))) return false;
  }
  return true;
}

/**
 * The price levels array starting at `at` (its '['), appended to `out`: `[]` or `["p","q"],…` with
 * both entries decimal strings. Returns the index after its ']', or −1.
 */
function levelsAt(text: string, at: number, out: [string, string][]): number {
  if (text.charCodeAt(at) !== OPEN_ARRAY) return -1;
  let i = at + 1;
  if (text.charCodeAt(i) === CLOSE_ARRAY) return i + 1;
  for (;;) {
    if (text.charCodeAt(i) !== OPEN_ARRAY || text.charCodeAt(i + 1) !== QUOTE) return -1;
    const pAt = i + 2;
    const pEnd = text.indexOf('"', pAt);
    if (pEnd < 0 || !isDecimalIn(text, pAt, pEnd) || text.charCodeAt(pEnd + 1) !== COMMA || text.charCodeAt(pEnd + 2) !== QUOTE) return -1;
    const qAt = pEnd + 3;
    const qEnd = text.indexOf('"', qAt);
    if (qEnd < 0 || !isDecimalIn(text, qAt, qEnd) || text.charCodeAt(qEnd + 1) !== CLOSE_ARRAY) return -1;
    out.push([text.slice(pAt, pEnd), text.slice(qAt, qEnd)]);
    i = qEnd + 2;
    const c = text.charCodeAt(i);
    if (c === CLOSE_ARRAY) return i + 1;
    if (c !== COMMA) return -1;
    i++;
  }
}

/** The end of a JSON number (RFC 8259 grammar) starting at `at`, or −1. */
function numberEnd(text: string, at: number): number {
  let i = at;
  if (text.charCodeAt(i) === MINUS) i++;
  const digits = (from: number): number => {
    let j = from;
    while (j < text.length && text.charCodeAt(j) >= ZERO && text.charCodeAt(j) <= NINE) j++;
    return j;
  };
  if (text.charCodeAt(i) === ZERO) i++;
  else {
    const j = digits(i);
    if (j === i) return -1;
    i = j;
  }
  if (text.charCodeAt(i) === DOT) {
    const j = digits(i + 1);
    if (j === i + 1) return -1;
    i = j;
  }
  const e = text.charCodeAt(i);
  if (e === 0x65 || e === 0x45) {
    let j = i + 1;
    const s = text.charCodeAt(j);
    if (s === 0x2b || s === MINUS) j++;
    const k = digits(j);
    if (k === j) return -1;
    i = k;
  }
  return i;
}

/** The end of a flat JSON value (number, plain string, true, false, null) at `at`, or −1 for anything else. */
function flatValueEnd(text: string, at: number): number {
  const c = text.charCodeAt(at);
  if (c === QUOTE) {
    const end = plainStringEnd(text, at + 1);
    return end < 0 ? -1 : end + 1;
  }
  if (c === MINUS || (c >= ZERO && c <= NINE)) return numberEnd(text, at);
  for (const lit of ['true', 'false', 'null']) if (text.startsWith(lit, at)) return at + lit.length;
  return -1;
}

/** From `at` (just after the asks): `,"key":flat` fields with new keys, then the payload's '}'. Returns the index after it, or −1. */
function extrasEnd(text: string, at: number): number {
  let i = at;
  while (text.charCodeAt(i) === COMMA) {
    if (text.charCodeAt(i + 1) !== QUOTE) return -1;
    const keyEnd = plainStringEnd(text, i + 2);
    if (keyEnd < 0 || text.charCodeAt(keyEnd + 1) !== 0x3a || KNOWN_KEYS.has(text.slice(i + 2, keyEnd))) return -1;
    i = flatValueEnd(text, keyEnd + 2);
    if (i < 0) return -1;
  }
  return text.charCodeAt(i) === CLOSE ? i + 1 : -1;
}

/**
 * The diff whose payload object starts at `from` and ends exactly at `end` (exclusive), as
 * JSON.parse + isDepthUpdate would accept it (without the extra fields), or null when the general
 * path must decide.
 */
export function scanDepthUpdate(text: string, from: number, end: number): DepthUpdate | null {
  if (!text.startsWith(HEAD, from)) return null;
  const eAt = from + HEAD.length;
  const eEnd = text.indexOf(AFTER_E, eAt);
  const tAt = eEnd + AFTER_E.length;
  const tEnd = next(text, AFTER_T, eEnd);
  const sAt = tEnd + AFTER_T.length;
  const sEnd = next(text, AFTER_S, tEnd);
  const firstAt = sEnd + AFTER_S.length;
  const firstEnd = next(text, AFTER_U, sEnd);
  const lastAt = firstEnd + AFTER_U.length;
  const lastEnd = next(text, AFTER_LOWER_U, firstEnd);
  const puAt = lastEnd + AFTER_LOWER_U.length;
  const puEnd = next(text, AFTER_PU, lastEnd);
  if (puEnd < 0 || !isPlainSymbolIn(text, sAt, sEnd)) return null;
  const E = intIn(text, eAt, eEnd);
  const T = intIn(text, tAt, tEnd);
  const U = intIn(text, firstAt, firstEnd);
  const u = intIn(text, lastAt, lastEnd);
  const pu = intIn(text, puAt, puEnd);
  // NaN fails every comparison; `pu` only has to be an integer.
  if (!(E > 0 && T > 0 && U >= 0 && u >= 0 && pu === pu)) return null;
  const b: [string, string][] = [];
  const bEnd = levelsAt(text, puEnd + AFTER_PU.length, b);
  if (bEnd < 0 || !text.startsWith(BEFORE_ASKS, bEnd)) return null;
  const a: [string, string][] = [];
  const aEnd = levelsAt(text, bEnd + BEFORE_ASKS.length, a);
  if (aEnd < 0 || extrasEnd(text, aEnd) !== end) return null;
  return { e: 'depthUpdate', E, T, s: text.slice(sAt, sEnd), U, u, pu, b, a };
}

const ENVELOPE_HEAD = '{"stream":"';
const DATA_KEY = '","data":';

/**
 * The diff of a combined-stream frame `{"stream":"<name>","data":<payload>}` whose stream name ends
 * at `streamEnd` (its closing quote), read as JSON.parse(text).data + isDepthUpdate would accept
 * it, or null when the general path must decide. The name must be one JSON.parse reads as itself
 * (printable ASCII, no escapes), and nothing may follow the payload but the envelope's '}'.
 */
export function scanDepthEnvelope(text: string, streamEnd: number): DepthUpdate | null {
  if (!text.startsWith(ENVELOPE_HEAD) || !text.startsWith(DATA_KEY, streamEnd) || text.charCodeAt(text.length - 1) !== CLOSE) return null;
  for (let i = ENVELOPE_HEAD.length; i < streamEnd; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE || c === BACKSLASH || c < 0x20 || c > 0x7e) return null;
  }
  return scanDepthUpdate(text, streamEnd + DATA_KEY.length, text.length - 1);
}
