/**
 * The warm start's I/O (SPEC §20): the pure planner (src/binance/backfill.ts) says which
 * `GET /fapi/v1/aggTrades` pages to ask for, this sends them through the shared REST client and
 * brackets the whole exchange with the two marker frames. Every page body reaches the frame
 * pipeline (and the capture) through the REST client's `onBody`, like any REST body; the pipeline
 * holds the live stream from the begin marker on and stitches the two at the end marker
 * (src/core/warm-start.ts). A symbol's pages are asked for once its live stream has delivered a
 * trade, so the last page reaches into the stream and no trade falls between the two. So this file decides nothing about trades: it only moves requests,
 * keeps the deadline and tells the planner how each request ended.
 */
import { AGG_TRADES_WEIGHT } from '../binance/agg-trades-page';
import { BackfillPlanner, driveBackfill, type PageOutcome, type PageRequest } from '../binance/backfill';
import { type Clock, sleep } from '../clock/clock';
import type { Condition } from '../alerts/engine';
import type { WarmStartFailed, WarmStartMarker, WarmStartStatus } from '../core/contracts/warm-start';
import { RestError, type RestClient } from './rest';

export interface WarmStartOptions {
  /** The frozen symbol set, in rank order. */
  symbols: readonly string[];
  rest: RestClient;
  clock: Clock;
  spanMs: number;
  /** The whole backfill's limit, on the clock; symbols without their last page then start cold. */
  deadlineMs: number;
  /** One page request's timeout, on the clock. */
  requestTimeoutMs: number;
  /** Ingest (and so record) a marker frame; called with the begin marker before any request, the end marker last. */
  marker: (m: WarmStartMarker, recvMs: number) => void;
  /** Whether the live stream delivered a trade of the symbol yet (the pipeline's `warmStart.liveSeen`): its pages wait until then. */
  isLive: (symbol: string) => boolean;
  /** Ends the backfill early (shutdown): the symbols still going start cold. */
  signal: AbortSignal;
}

/** While symbols wait for their first live trade, look again this often (clock ms). */
const LIVE_WAIT_MS = 50;

export interface WarmStartOutcome {
  /** Requests sent and the weight they cost. */
  calls: number;
  weight: number;
  /** The weight the warm start could spend (half the free weight, outside the client's reserve). */
  budget: number;
  /** The collector's own verdicts (the pipeline adds what it sees in the pages: src/core/warm-start.ts). */
  failed: WarmStartFailed;
  /** Clock ms from the begin marker to the end marker. */
  tookMs: number;
}

/** Run one warm start to its end marker. Never rejects: every failure starts its symbols cold. */
export async function runWarmStart(o: WarmStartOptions): Promise<WarmStartOutcome> {
  const began = o.clock.now();
  const planner = new BackfillPlanner({
    symbols: o.symbols,
    nowMs: began,
    spanMs: o.spanMs,
    usedWeight1m: o.rest.usedWeight1m,
    weightLimit: o.rest.weightLimit,
    isLive: o.isLive,
  });
  o.marker(planner.beginMarker(), began);
  const deadline = new AbortController();
  const onAbort = (): void => deadline.abort();
  o.signal.addEventListener('abort', onAbort, { once: true });
  const timeUp = sleep(o.clock, o.deadlineMs, deadline.signal);
  try {
    await driveBackfill(
      planner,
      (req) => sendPage(o, req),
      timeUp,
      () => sleep(o.clock, LIVE_WAIT_MS, deadline.signal),
    );
  } finally {
    deadline.abort();
    o.signal.removeEventListener('abort', onAbort);
  }
  if (!planner.done) {
    planner.expire(o.signal.aborted ? 'the collector stopped before the last page' : `no last page within the warm start's ${o.deadlineMs} ms`);
  }
  const now = o.clock.now();
  o.marker(planner.endMarker(), now);
  return { calls: planner.sent, weight: planner.sent * AGG_TRADES_WEIGHT, budget: planner.budget.cap, failed: { ...planner.failures }, tookMs: now - began };
}

/** One page through the REST client, as an outcome (the body itself went to the pipeline already). */
async function sendPage(o: WarmStartOptions, req: PageRequest): Promise<PageOutcome> {
  try {
    const r = await o.rest.get(req.path, { timeoutMs: o.requestTimeoutMs, weight: req.weight });
    return { kind: 'body', text: r.text, recvMs: r.recvMs, usedWeight1m: r.usedWeight1m };
  } catch (e) {
    if (!(e instanceof RestError)) return { kind: 'network', detail: (e as Error).message };
    switch (e.kind) {
      case 'timeout':
        return { kind: 'timeout', detail: e.message };
      case 'network':
        return { kind: 'network', detail: e.message };
      // Not sent at all while the client waits out a Retry-After: the IP is limited, as after a 429.
      case 'rate_limited':
      case 'banned':
        return { kind: 'status', status: e.status ?? (e.kind === 'banned' ? 418 : 429), retryAfterMs: e.retryAfterMs, detail: e.message };
      default:
        return { kind: 'status', status: e.status ?? 0, retryAfterMs: e.retryAfterMs, detail: e.message };
    }
  }
}

/**
 * The alert of a warm start that left symbols cold (SPEC §20), for the collector's alerting: one
 * for the run, naming each symbol and why; null when every symbol was backfilled.
 */
export function warmStartCondition(status: Readonly<WarmStartStatus>): Condition | null {
  const failed = Object.entries(status.failed);
  const first = failed[0];
  if (first === undefined) return null;
  const what = failed.map(([symbol, f]) => `${symbol} (${f.reason}: ${f.detail})`).join('; ');
  return {
    reason: 'WARM_START_FAILED',
    severity: 'WARN',
    ...(failed.length === 1 ? { symbol: first[0] } : {}),
    summary: `warm start failed, starting cold: ${what}; their baselines warm from 60 live windows (start again later, or check the REST access)`.slice(
      0,
      1000,
    ),
  };
}
