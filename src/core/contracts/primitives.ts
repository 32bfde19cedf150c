/**
 * The canonical contracts' own building blocks. They describe what the core accepts, not what any
 * exchange sends: an adapter maps its wire format onto these, so no venue's spelling leaks inward.
 */
import { z } from 'zod';

/**
 * Instrument names: upper-case letters and digits, optionally a `_` suffix — a delivery date
 * (`BTCUSDT_250926`) or `PERP` (`BTCUSD_PERP`). A venue that spells names otherwise
 * (`BTC-USDT-SWAP`) is mapped onto this form by its adapter.
 */
export const SYMBOL_RE = /^[A-Z0-9]{2,30}(?:_(?:[0-9]{6}|PERP))?$/;
export const symbolString = z.string().regex(SYMBOL_RE, 'not a symbol (upper-case letters and digits, optional _ suffix)');

/** Exchange time, integer epoch milliseconds. */
export const epochMs = z.number().int().positive();
/** Local receipt time, integer epoch milliseconds. */
export const recvMs = z.number().int().nonnegative();

export const finitePositive = z.number().positive().finite();
export const finiteNonNegative = z.number().nonnegative().finite();

export const SideSchema = z.enum(['BUY', 'SELL']);
export type Side = z.infer<typeof SideSchema>;

/** A counter: how many times something happened. */
export const count = z.number().int().nonnegative();
