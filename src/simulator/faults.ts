/**
 * Fault state and fault payloads. Durations and delays are exchange-clock milliseconds, like every
 * other time the simulator deals in: at speed S a fault of `ms` lasts ms/S of wall time.
 */
import { envelope } from './frames';
import type { Rng } from './rng';

type RestStatus = 403 | 418 | 429 | 451 | 500 | 502 | 503;

interface RestStatusFault {
  path: string;
  status: RestStatus;
  left: number;
  retryAfterS: number | undefined;
}

interface RestSlowFault {
  path: string;
  delayMs: number;
  left: number;
}

export class FaultState {
  private readonly noData = new Map<string, number>();
  private burstFactor = 1;
  private burstUntil = 0;
  private readonly restStatus: RestStatusFault[] = [];
  private readonly restSlow: RestSlowFault[] = [];
  /** Added to every `serverTime` the REST side reports (fault `server_time_skew`). */
  serverTimeSkewMs = 0;

  ackNoData(stream: string, until: number): void {
    this.noData.set(stream, Math.max(until, this.noData.get(stream) ?? 0));
  }

  /** Whether `stream` is acknowledged-but-silent at `t`. */
  suppressed(stream: string, t: number): boolean {
    if (this.noData.size === 0) return false;
    const until = this.noData.get(stream);
    if (until === undefined) return false;
    if (t < until) return true;
    this.noData.delete(stream);
    return false;
  }

  burst(factor: number, until: number): void {
    if (!(factor > 0) || !Number.isFinite(factor)) throw new Error(`burst factor must be positive, got ${factor}`);
    this.burstFactor = factor;
    this.burstUntil = until;
  }

  /** Replay rate of recorded data at `t`. */
  rateAt(t: number): number {
    return t < this.burstUntil ? this.burstFactor : 1;
  }

  addRestStatus(path: string, status: RestStatus, count: number, retryAfterS?: number): void {
    this.restStatus.push({ path, status, left: count, retryAfterS });
  }

  addRestSlow(path: string, delayMs: number, count: number): void {
    this.restSlow.push({ path, delayMs, left: count });
  }

  /** Consume one forced status for a request to `path`, oldest fault first. */
  takeRestStatus(path: string): { status: RestStatus; retryAfterS: number | undefined } | null {
    const i = this.restStatus.findIndex((f) => path.startsWith(f.path));
    if (i < 0) return null;
    const f = this.restStatus[i] as RestStatusFault;
    if (--f.left <= 0) this.restStatus.splice(i, 1);
    return { status: f.status, retryAfterS: f.retryAfterS };
  }

  /** Consume one forced delay for a request to `path`; 0 when none applies. */
  takeRestSlow(path: string): number {
    const i = this.restSlow.findIndex((f) => path.startsWith(f.path));
    if (i < 0) return 0;
    const f = this.restSlow[i] as RestSlowFault;
    if (--f.left <= 0) this.restSlow.splice(i, 1);
    return f.delayMs;
  }
}

/** What a broken proxy, a truncated write or a confused gateway puts on the wire. */
const GARBAGE: readonly string[] = [
  '<html><head><title>502 Bad Gateway</title></head><body>502 Bad Gateway</body></html>',
  '{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":17',
  '\u0000\u0001\u0002 binary-ish noise \uFFFD\uFFFD',
  'ping',
  '}{',
  'undefined',
];

export function garbageFrames(count: number, rng: Rng): string[] {
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(GARBAGE[(i + rng.int(GARBAGE.length)) % GARBAGE.length] as string);
  return out;
}

/** Valid JSON in the right envelope, but each one breaks the payload contract in a different way. */
export function schemaViolationFrames(count: number, t: number, combined: boolean): string[] {
  const variants: readonly { stream: string; payload: string }[] = [
    { stream: 'btcusdt@aggTrade', payload: `{"e":"aggTrade","E":${t},"a":1,"s":"BTCUSDT","p":"abc","q":"0.001","f":1,"l":1,"T":${t},"m":false}` },
    { stream: 'btcusdt@aggTrade', payload: `{"e":"aggTrade","E":${t},"s":"BTCUSDT","p":"61800.10","q":"0.001","T":${t},"m":false}` },
    { stream: 'ethusdt@aggTrade', payload: `{"e":"aggTrade","E":${t},"a":2,"s":"ETHUSDT","p":"2681.10","q":"-1","f":2,"l":2,"T":${t},"m":"yes"}` },
    {
      stream: '!forceOrder@arr',
      payload: `{"e":"forceOrder","E":${t},"o":{"s":"BTCUSDT","S":"HOLD","o":"LIMIT","f":"IOC","q":"1","p":"1","ap":"1","X":"FILLED","l":"1","z":"1","T":${t}}}`,
    },
    {
      stream: 'btcusdt@kline_1m',
      payload: `{"e":"kline","E":${t},"s":"BTCUSDT","k":{"t":${t},"T":${t + 59_999},"s":"BTCUSDT","i":"1m","o":"NaN","c":"1","h":"1","l":"1","v":"1","n":1,"x":false,"q":"1","V":"1","Q":"1"}}`,
    },
    { stream: 'btcusdt@markPrice@1s', payload: `{"e":"markPriceUpdate","E":-5,"s":"BTCUSDT","p":"1e5","i":"","P":"","r":"0.0001","T":0}` },
  ];
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const v = variants[i % variants.length] as { stream: string; payload: string };
    out.push(combined ? envelope(v.stream, v.payload) : v.payload);
  }
  return out;
}
