/**
 * The boundary between a market-data source and the core, whatever the exchange: raw frames come
 * in as received, an exchange adapter turns each into a canonical event or a classified rejection,
 * and the frame pipeline (./pipeline) counts the outcome and feeds the engine.
 */
import type { CanonicalEvent } from './contracts/canonical';

/** One received frame as the capture stores it. */
export interface Frame {
  /** Local receipt time, epoch ms. */
  recv_ms: number;
  /**
   * Where it came from: `ws:<path>` (e.g. `ws:/market/stream`), `rest:<path?query>`
   * (e.g. `rest:/fapi/v1/openInterest?symbol=BTCUSDT`), or '' when a foreign capture format does
   * not say. The adapter reads it where the text alone is ambiguous (REST bodies, raw streams).
   */
  source: string;
  text: string;
}

/** Why a valid input is left out by rule: a trade that is not market flow, an instrument of another market. */
export type DropReason = 'non_market_trade' | 'coin_margined';

/**
 * What an adapter makes of one frame. Every frame gets exactly one, so nothing is dropped silently:
 *   event     — one canonical event for the core;
 *   ignored   — well-known traffic the core does not use (book tickers, depth, control replies,
 *               REST bodies read elsewhere), counted by kind;
 *   dropped   — valid but excluded by rule, counted on its symbol;
 *   malformed — anything else, with a reason; counted by reason class and dead-lettered.
 */
export type FrameResult =
  | { kind: 'event'; event: CanonicalEvent }
  | { kind: 'ignored'; what: string }
  | { kind: 'dropped'; reason: DropReason; symbol: string }
  | { kind: 'malformed'; reason: string };
export type FrameOutcome = FrameResult['kind'];

export interface SubscriptionOptions {
  /** Also subscribe the display-only mark price streams. */
  markPrice: boolean;
}

/**
 * One exchange, as the rest of the code sees it. Pure and stateless: the same frame always gives
 * the same result, so a capture replays through the adapter exactly as it ran live.
 */
export interface ExchangeAdapter {
  /** The venue, as logs and docs name it. */
  readonly name: string;
  /** Frame → canonical event or classified rejection. Never throws. */
  normalize(frame: Frame): FrameResult;
  /** The stream subscriptions that deliver the core's inputs for these symbols, in subscription order. */
  subscriptions(symbols: readonly string[], options: SubscriptionOptions): string[];
}

/** An input that could not be used (SPEC §2.4): why, where from, when, and the raw text. */
export interface DeadLetter {
  recv_ms: number;
  source: string;
  reason: string;
  raw: string;
}
