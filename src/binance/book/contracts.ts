/**
 * What the order book consumes (BINANCE.md §4.6, §8): the `depthUpdate` diff (schema in
 * core/contracts/binance, re-exported here) and the REST `GET /fapi/v1/depth` snapshot body, plus
 * hand-written validators for both. Depth is by far the largest stream (≈ 20 frames/s per symbol at
 * `@depth@0ms`, up to a thousand levels per frame), so a diff in the exchange's exact shape is read
 * and checked straight from the text (./depth-scan), any other frame by the fast validator here, and
 * zod is consulted only for a rejection, to name the field (test/book-contracts.test.ts proves the
 * validator and zod accept exactly the same payloads, test/depth-scan.test.ts the reader and the validator).
 */
import { z } from 'zod';
import { SYMBOL_RE } from '../../core/contracts/primitives';
import { type DepthUpdate, DepthUpdateSchema, DECIMAL_RE, decimalString } from '../schemas';

export { type DepthUpdate, DepthUpdateSchema };

const priceLevel = z.tuple([decimalString, decimalString]);

/**
 * REST `GET /fapi/v1/depth?symbol=S&limit=1000` (weight 20). The body names no symbol: the request
 * did, so the capture's `rest:` source carries it. `E`/`T` are present on futures, absent on spot.
 */
export const DepthSnapshotSchema = z.looseObject({
  lastUpdateId: z.number().int().nonnegative(),
  E: z.number().int().positive().optional(),
  T: z.number().int().positive().optional(),
  bids: z.array(priceLevel),
  asks: z.array(priceLevel),
});
export type DepthSnapshot = z.infer<typeof DepthSnapshotSchema>;

type Obj = Record<string, unknown>;

function isObj(x: unknown): x is Obj {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
function isSafeInt(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x);
}
function isLevels(x: unknown): x is [string, string][] {
  if (!Array.isArray(x)) return false;
  for (const lv of x) {
    if (!Array.isArray(lv) || lv.length !== 2) return false;
    const p: unknown = lv[0];
    const q: unknown = lv[1];
    if (typeof p !== 'string' || typeof q !== 'string' || !DECIMAL_RE.test(p) || !DECIMAL_RE.test(q)) return false;
  }
  return true;
}

/** Accepts exactly what DepthUpdateSchema accepts. */
export function isDepthUpdate(x: unknown): x is DepthUpdate {
  return (
    isObj(x) &&
    x.e === 'depthUpdate' &&
    isSafeInt(x.E) &&
    x.E > 0 &&
    isSafeInt(x.T) &&
    x.T > 0 &&
    typeof x.s === 'string' &&
    SYMBOL_RE.test(x.s) &&
    isSafeInt(x.U) &&
    x.U >= 0 &&
    isSafeInt(x.u) &&
    x.u >= 0 &&
    isSafeInt(x.pu) &&
    isLevels(x.b) &&
    isLevels(x.a)
  );
}

/** Accepts exactly what DepthSnapshotSchema accepts. */
export function isDepthSnapshot(x: unknown): x is DepthSnapshot {
  return (
    isObj(x) &&
    isSafeInt(x.lastUpdateId) &&
    x.lastUpdateId >= 0 &&
    (x.E === undefined || (isSafeInt(x.E) && x.E > 0)) &&
    (x.T === undefined || (isSafeInt(x.T) && x.T > 0)) &&
    isLevels(x.bids) &&
    isLevels(x.asks)
  );
}
