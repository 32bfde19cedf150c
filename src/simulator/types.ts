/**
 * The loopback exchange simulator's public surface: what tests, `npm run demo` and the benchmarks
 * may ask of it. It serves the Binance USDⓈ-M REST paths and routed WebSocket endpoints we use, on
 * 127.0.0.1 only, from recorded real data: trades, mark prices and liquidations on /market, and
 * `<s>@depth@100ms` order-book diffs on /public with `GET /fapi/v1/depth` snapshots of the same books
 * (other depth cadences and partial-depth streams are acknowledged but never delivered).
 */
import type { Clock } from '../clock/clock';
import type { DepthSnapshotBody } from './depth-feed';

/**
 * Every duration and delay below (`ms`, `delayMs`) is in exchange-clock milliseconds, like all
 * simulator times: at speed S it lasts ms/S of wall time. `retryAfterS` is exchange seconds too.
 */
export type SimFault =
  /** Close every market WS connection abruptly (TCP destroy, no close frame). */
  | { kind: 'abrupt_close' }
  /** Stop sending anything (no frames, no pings, no close) on open connections for `ms`. */
  | { kind: 'half_open'; ms: number }
  /** Keep acknowledging subscriptions, but deliver no data for this stream name (e.g. `btcusdt@aggTrade`) for `ms`. */
  | { kind: 'ack_no_data'; stream: string; ms: number }
  /** Send `count` frames of non-JSON garbage on the market connection. */
  | { kind: 'garbage'; count: number }
  /** Send `count` binary frames (the exchange sends text only; a broken proxy may not). */
  | { kind: 'binary'; count: number }
  /** Send `count` JSON frames that break the schema (e.g. price "abc", missing fields). */
  | { kind: 'schema_violation'; count: number }
  /** Re-send the last `count` aggTrade frames (same ids). */
  | { kind: 'duplicate'; count: number }
  /** Send the next `count` data frames in shuffled order. */
  | { kind: 'out_of_order'; count: number }
  /** Multiply the data rate by `factor` for `ms`. */
  | { kind: 'burst'; factor: number; ms: number }
  /** Close like the exchange's 24 h limit does (close frame, code 1000/1001), now. */
  | { kind: 'close_24h' }
  /**
   * Answer the next `count` requests whose path starts with `path` with `status` (429/418 carry
   * Retry-After); `body` replaces the exchange-like error body (a hostile gateway's bytes).
   */
  | { kind: 'rest_status'; path: string; status: 403 | 418 | 429 | 451 | 500 | 502 | 503; count: number; retryAfterS?: number; body?: string }
  /** Delay the next `count` responses under `path` by `delayMs` (longer than the client timeout = a timeout). */
  | { kind: 'rest_slow'; path: string; delayMs: number; count: number }
  /** Lose `symbol`'s next `@depth@100ms` diff in transit: the one after it breaks the `pu` chain for every client. */
  | { kind: 'depth_pu_break'; symbol: string }
  /**
   * Answer the next `count` `GET /fapi/v1/depth` requests for `symbol` with the book as it was
   * `behind` diffs earlier (default 50, 5 s of @100ms): older than the diffs a syncing client has
   * buffered, so none bridges it and the client must fetch again.
   */
  | { kind: 'depth_stale_snapshot'; symbol: string; count: number; behind?: number }
  /**
   * Damage the next `count` successful list bodies under `path` (e.g. `/fapi/v1/aggTrades`): `truncated`
   * cuts the JSON in the middle (HTTP 200, Content-Length of what is sent); `gap` leaves rows out of
   * the middle, so the JSON is valid but the aggregate ids jump.
   */
  | { kind: 'rest_partial'; path: string; mode: 'truncated' | 'gap'; count: number }
  /**
   * From now on `serverTime` (GET /fapi/v1/time, exchangeInfo) reads `ms` ahead of the simulator's
   * exchange clock (negative: behind): what a client whose local clock is off by −ms measures.
   * Frames keep their stamps; to skew the whole exchange clock, start with `startMs: Date.now() + ms`.
   */
  | { kind: 'server_time_skew'; ms: number };

export interface SimulatorOptions {
  /** 0 picks a free port. The server binds 127.0.0.1 only. */
  port?: number;
  /** Exchange-time speed: 1 = real time; 60 = a minute of data per second. */
  speed?: number;
  /** Where the recorded data lives (default: ../shared/data beside the repo, else test/fixtures). */
  dataDir?: string;
  /** Seed for every scripted or randomised choice, so a run is reproducible. */
  seed?: number;
  /** `demo` scripts a liquidation cascade after warm-up; `steady` is plain looped data. */
  scenario?: 'steady' | 'demo';
  /** Exchange time of the first frame (default: now): recorded data are time-shifted onto it. */
  startMs?: number;
  /** Wall ms between batches of frames (default 15). */
  tickMs?: number;
  /** Close connections like the exchange once they are 24 h old on the simulator clock (default true). */
  autoClose24h?: boolean;
  /**
   * Exchange ms of market before start that `GET /fapi/v1/aggTrades` can list (default 6 min: a
   * warm start's 5 min and some slack); 0 = none. Published aggTrades are listed for as long.
   */
  historyMs?: number;
  /**
   * Run on this clock instead of the wall clock: its time is the exchange time and every timer
   * (the batching loop included) runs on it, so `speed` and `startMs` are ignored. Tests share one
   * ManualClock between the simulator and the collector and advance it.
   */
  clock?: Clock;
}

export interface SimulatorStats {
  connections: number;
  openConnections: number;
  subscribeMessages: number;
  subscribedStreams: string[];
  framesSent: number;
  framesByStream: Record<string, number>;
  restRequests: Record<string, number>;
  /** Responses written so far (a delayed one counts once it is sent). */
  restAnswered?: number;
  faultsInjected: number;
  /** How far (exchange ms) the last batch ended behind the clock; stays near 0 unless overloaded. */
  lagMs?: number;
  /** Share of wall time spent producing and sending frames since start (1 = one core saturated). */
  busyShare?: number;
  /** Demo cascades scheduled so far (exchange ms). */
  cascades?: { startMs: number; endMs: number; symbols: string[]; direction: -1 | 1 }[];
  /** Whether liquidations come from the recorded CSV (else they are scripted). */
  recordedLiquidations?: boolean;
  /** Which recorded files feed the market. */
  dataOrigin?: string;
  /** Per symbol whose book was built: diffs produced, and the ones lost to the pu-break fault. */
  depth?: Record<string, { produced: number; dropped: number }>;
  /** The last DEPTH_REQUESTS_KEPT `GET /fapi/v1/depth` requests, oldest first: how a client paces its snapshots. */
  depthRequests?: DepthRequest[];
}

/** One `GET /fapi/v1/depth` as the simulator saw it, in exchange ms (answered: null while its response is pending). */
export interface DepthRequest {
  symbol: string;
  received_ms: number;
  answered_ms: number | null;
  /** Of the body it was answered with (null until then, or when it was not a book): its id and deepest prices. */
  last_update_id: number | null;
  deepest_bid: string | null;
  deepest_ask: string | null;
}

export interface SimulatorHandle {
  /** e.g. http://127.0.0.1:PORT — use as the REST base URL. */
  restUrl: string;
  /** e.g. ws://127.0.0.1:PORT — use as the WS base URL (routes /market, /public are appended). */
  wsUrl: string;
  /** The simulator's exchange clock (ms); under `speed` ≠ 1 give this to the collector as its clock. */
  now(): number;
  /** The TOP_10 it presents, in rank order. */
  symbols: readonly string[];
  fault(f: SimFault): void;
  stats(): SimulatorStats;
  /**
   * `symbol`'s book as the exchange holds it now, as the REST body (`limit` levels a side), without
   * a request: no weight, no request log, and a stale-snapshot fault is neither applied nor used up.
   * Null for a symbol the simulator keeps no book of. For tests comparing a client's book.
   */
  book(symbol: string, limit?: number): DepthSnapshotBody | null;
  stop(): Promise<void>;
}
