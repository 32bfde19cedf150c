/**
 * Hand-written validators for the hot payloads. Each accepts exactly what its zod schema in
 * ./schemas accepts (test/fastpath.test.ts checks that on real frames and on thousands of
 * mutations of them). The zod schema stays the contract: it is consulted whenever the fast path
 * says no, to produce the reason for the dead letter, so a disagreement could only ever turn a
 * rejection into a more precise one, never let a bad payload through.
 */
import { SYMBOL_RE } from '../core/contracts/primitives';
import type { AggTrade, ForceOrder, Kline, MarkPriceUpdate, OpenInterestRest, RawTrade } from './schemas';
import { DECIMAL_RE, POSITIVE_DECIMAL_RE, SIGNED_DECIMAL_RE } from './schemas';

type Obj = Record<string, unknown>;

function isObj(x: unknown): x is Obj {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
function isEpochMs(x: unknown): boolean {
  return typeof x === 'number' && Number.isSafeInteger(x) && x > 0;
}
function isId(x: unknown): boolean {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}
function isInt(x: unknown): boolean {
  return typeof x === 'number' && Number.isSafeInteger(x);
}
function isDec(x: unknown): boolean {
  return typeof x === 'string' && DECIMAL_RE.test(x);
}
function isPosDec(x: unknown): boolean {
  return typeof x === 'string' && POSITIVE_DECIMAL_RE.test(x);
}
function isSym(x: unknown): boolean {
  return typeof x === 'string' && SYMBOL_RE.test(x);
}
function isShortString(x: unknown, max: number): boolean {
  return typeof x === 'string' && x.length <= max;
}

export function isAggTrade(x: unknown): x is AggTrade {
  return (
    isObj(x) &&
    x.e === 'aggTrade' &&
    isEpochMs(x.E) &&
    isSym(x.s) &&
    isId(x.a) &&
    isPosDec(x.p) &&
    isDec(x.q) &&
    isId(x.f) &&
    isId(x.l) &&
    isEpochMs(x.T) &&
    typeof x.m === 'boolean' &&
    (x.nq === undefined || isDec(x.nq)) &&
    (x.st === undefined || isInt(x.st))
  );
}

export function isRawTrade(x: unknown): x is RawTrade {
  return (
    isObj(x) &&
    x.e === 'trade' &&
    isEpochMs(x.E) &&
    isEpochMs(x.T) &&
    isSym(x.s) &&
    isId(x.t) &&
    isPosDec(x.p) &&
    isDec(x.q) &&
    typeof x.X === 'string' &&
    x.X.length >= 1 &&
    x.X.length <= 32 &&
    typeof x.m === 'boolean'
  );
}

export function isForceOrder(x: unknown): x is ForceOrder {
  if (!isObj(x) || x.e !== 'forceOrder' || !isEpochMs(x.E)) return false;
  if (!(x.st === undefined || isInt(x.st))) return false;
  if (!(x.ps === undefined || isShortString(x.ps, 40))) return false;
  const o = x.o;
  return (
    isObj(o) &&
    isSym(o.s) &&
    (o.S === 'BUY' || o.S === 'SELL') &&
    isShortString(o.o, 32) &&
    isShortString(o.f, 32) &&
    isPosDec(o.q) &&
    isPosDec(o.p) &&
    isDec(o.ap) &&
    isShortString(o.X, 32) &&
    isDec(o.l) &&
    isDec(o.z) &&
    isEpochMs(o.T)
  );
}

export function isKline(x: unknown): x is Kline {
  if (!isObj(x) || x.e !== 'kline' || !isEpochMs(x.E) || !isSym(x.s)) return false;
  const k = x.k;
  return (
    isObj(k) &&
    isEpochMs(k.t) &&
    isEpochMs(k.T) &&
    isSym(k.s) &&
    typeof k.i === 'string' &&
    k.i.length >= 1 &&
    k.i.length <= 4 &&
    isInt(k.f) &&
    isInt(k.L) &&
    isPosDec(k.o) &&
    isPosDec(k.c) &&
    isPosDec(k.h) &&
    isPosDec(k.l) &&
    isDec(k.v) &&
    isId(k.n) &&
    typeof k.x === 'boolean' &&
    isDec(k.q) &&
    isDec(k.V) &&
    isDec(k.Q)
  );
}

export function isMarkPriceUpdate(x: unknown): x is MarkPriceUpdate {
  return (
    isObj(x) &&
    x.e === 'markPriceUpdate' &&
    isEpochMs(x.E) &&
    isSym(x.s) &&
    isPosDec(x.p) &&
    isDec(x.i) &&
    isDec(x.P) &&
    typeof x.r === 'string' &&
    (x.r === '' || SIGNED_DECIMAL_RE.test(x.r)) &&
    isId(x.T)
  );
}

export function isOpenInterestRest(x: unknown): x is OpenInterestRest {
  return isObj(x) && isSym(x.symbol) && isDec(x.openInterest) && isEpochMs(x.time);
}
