/**
 * What a market-data source hands the core, whatever the exchange: raw frames as received, which
 * an exchange adapter turns into canonical events.
 */

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
