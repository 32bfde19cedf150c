/**
 * The boundary between a market-data source and the core, whatever the exchange: raw frames come
 * in as received, an exchange adapter turns each into a canonical event or a classified rejection,
 * and the frame pipeline (./pipeline) counts the outcome and feeds the engine.
 */
import type { BooksOptions, OrderBooks } from './books';
import type { CanonicalEvent, TradeEvent } from './contracts/canonical';

/** One received frame as the capture stores it. */
export interface Frame {
  /** Local receipt time, epoch ms. */
  recv_ms: number;
  /**
   * Where it came from: `ws:<path>` (e.g. `ws:/market/stream`), `rest:<path?query>`
   * (e.g. `rest:/fapi/v1/openInterest?symbol=BTCUSDT`), `local:<what>` for a record the collector
   * writes itself (the warm-start markers, ./warm-start), or '' when a foreign capture format does
   * not say. The adapter reads it where the text alone is ambiguous (REST bodies, raw streams).
   * `local:<path>` is a fact the collector recorded itself, in stream order, so a replay meets it at
   * the same place: `local:/public/stream` with text CONNECTION_OPEN says a new connection on that
   * route starts here (every order book it feeds must resync). It is never exchange data, and M3
   * never sees it (the frame pipeline hands it to the books alone).
   */
  source: string;
  text: string;
}

export const LOCAL_SOURCE_PREFIX = 'local:';
/** The text of a `local:<route>` frame recorded when a new connection on that route opened. */
export const CONNECTION_OPEN = 'connection_open';

/** The frame a collector records when a connection on `route` (e.g. `/public/stream`) opens or takes over from a rotated one. */
export function connectionOpenFrame(route: string, recvMs: number): Frame {
  return { recv_ms: recvMs, source: `${LOCAL_SOURCE_PREFIX}${route}`, text: CONNECTION_OPEN };
}

/** Why a valid input is left out by rule: a trade that is not market flow, an instrument of another market. */
export type DropReason = 'non_market_trade' | 'coin_margined';

/**
 * One page of a symbol's past trades, fetched for the warm start (SPEC §20). A symbol's pages form
 * a chain: the first asked from a time, each next one from the trade id after the previous page's
 * last; a page with fewer trades than asked for is the last (nothing newer existed when it was
 * served). The pipeline checks the chain (./warm-start `HistoryChain`) before it uses any of it.
 */
export interface HistoryPage {
  symbol: string;
  /** Oldest first, as the exchange lists them. */
  trades: TradeEvent[];
  from: { kind: 'time'; ms: number } | { kind: 'id'; id: number };
  /** How many trades were asked for. */
  limit: number;
}

/**
 * What an adapter makes of one frame. Every frame gets exactly one, so nothing is dropped silently:
 *   event     — one canonical event for the core;
 *   history   — a page of past trades (a REST body) for the warm start, many trades in one frame;
 *   ignored   — well-known traffic the core does not use (book tickers, depth, control replies,
 *               REST bodies read elsewhere), counted by kind;
 *   dropped   — valid but excluded by rule, counted on its symbol;
 *   malformed — anything else, with a reason; counted by reason class and dead-lettered.
 */
export type FrameResult =
  | { kind: 'event'; event: CanonicalEvent }
  | { kind: 'history'; page: HistoryPage }
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
  /** Fresh order books fed from this exchange's depth frames (./books), when the adapter keeps books. */
  books?(options: BooksOptions): OrderBooks;
}

/** An input that could not be used (SPEC §2.4): why, where from, when, and the raw text. */
export interface DeadLetter {
  recv_ms: number;
  source: string;
  reason: string;
  raw: string;
}
