/**
 * Binance REST over undici: timeouts, weight-aware pacing and the exchange's ban etiquette
 * (BINANCE.md §7). One gate is shared by every caller, because the 2400-weight budget belongs to
 * the IP: after a 429 or 418 nobody sends until Retry-After has passed.
 */
import { setFlagsFromString } from 'node:v8';
import type { Dispatcher } from 'undici';
import { Agent, request } from './undici-request';
import { type Clock, sleep } from '../clock/clock';
import { LIMITS } from '../core/constants';
import { safeMessage } from '../text/safe';

// undici parses HTTP with llhttp compiled to WebAssembly, on the first connection. V8's optimizing
// tier (TurboFan) then recompiles that module in the background: ~35 MB of transient native memory
// at startup and ~10 MB kept, for a parser that handles about two small responses a second here.
// The baseline tier (Liftoff) parses those just as well. V8 flags are process-wide and read at
// compile time, so setting it before the first request is enough; the app has no other WebAssembly.
// Measured in the memory-over-a-day benchmark (README "Performance"): the startup RSS peak.
setFlagsFromString('--liftoff-only');

type ResponseBody = Dispatcher.ResponseData['body'];

/**
 * At most `limit` bytes of a response body: a declared Content-Length beyond it is refused before
 * reading, and a body that keeps coming is cut off at the limit (the connection is dropped), so a
 * server never decides how much memory one answer costs. `tooLarge`: more was there.
 */
async function readBounded(body: ResponseBody, limit: number, contentLength: string | string[] | undefined): Promise<{ text: string; tooLarge: boolean }> {
  const declared = Number(Array.isArray(contentLength) ? contentLength[0] : contentLength);
  if (Number.isFinite(declared) && declared > limit) {
    body.destroy();
    return { text: '', tooLarge: true };
  }
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    if (n + chunk.length > limit) {
      chunks.push(chunk.subarray(0, limit - n));
      body.destroy();
      return { text: Buffer.concat(chunks).toString('utf8'), tooLarge: true };
    }
    chunks.push(chunk);
    n += chunk.length;
  }
  return { text: Buffer.concat(chunks).toString('utf8'), tooLarge: false };
}

export type RestErrorKind = 'rate_limited' | 'banned' | 'forbidden' | 'server' | 'client' | 'timeout' | 'network' | 'too_large';

export class RestError extends Error {
  override name = 'RestError';
  constructor(
    readonly kind: RestErrorKind,
    readonly path: string,
    readonly status: number | null,
    message: string,
    readonly retryAfterMs: number | null = null,
  ) {
    super(message);
  }
}

export interface RestResponse {
  status: number;
  text: string;
  recvMs: number;
  usedWeight1m: number | null;
}

export interface RestClientOptions {
  baseUrl: string;
  /** Receive times, Retry-After deadlines and the weight window's calendar minute. */
  clock: Clock;
  /** Every successful body, for the capture recorder. */
  onBody?: (source: string, text: string, recvMs: number) => void;
  /** Weight limit per minute (from exchangeInfo.rateLimits when known). */
  weightLimit?: number;
  /** The exchange's weight window (a calendar minute); shorter only in tests. */
  weightWindowMs?: number;
  /** false: no SO_KEEPALIVE on sockets (config `tcpKeepAlive`, a workaround for wine only). */
  tcpKeepAlive?: boolean;
}

export class RestClient {
  private readonly agent: Agent;
  private readonly clock: Clock;
  /** Ends the pacing waits on close. */
  private readonly closing = new AbortController();
  /** No request leaves before this time on the clock (set by 429/418 Retry-After). */
  private blockedUntil = 0;
  usedWeight1m: number | null = null;
  weightLimit: number;
  lastBanStatus: 418 | 429 | null = null;
  /** Requests held back because the used weight neared the limit. */
  pacedRequests = 0;
  /** Responses received (any status). */
  answered = 0;

  constructor(private readonly opts: RestClientOptions) {
    this.agent = new Agent({ keepAliveTimeout: 30_000, connections: 4, connect: { keepAlive: opts.tcpKeepAlive ?? true } });
    this.clock = opts.clock;
    this.weightLimit = opts.weightLimit ?? 2400;
  }

  get blockedForMs(): number {
    return Math.max(0, this.blockedUntil - this.clock.now());
  }

  /**
   * GET `pathAndQuery` (e.g. `/fapi/v1/openInterest?symbol=BTCUSDT`). Resolves with the body of a
   * 2xx answer; rejects with a RestError saying what failed and whether to retry.
   */
  async get(pathAndQuery: string, opts: { timeoutMs: number; weight?: number }): Promise<RestResponse> {
    const wait = this.blockedUntil - this.clock.now();
    if (wait > 0) {
      throw new RestError(
        this.lastBanStatus === 418 ? 'banned' : 'rate_limited',
        pathAndQuery,
        null,
        `not sent: the exchange asked us to wait ${Math.ceil(wait / 1000)} s more (Retry-After)`,
        wait,
      );
    }
    // Keep a 10 % margin: other programs on this IP spend the same budget. The exchange counts
    // weight per calendar minute, so past the margin the next request waits for the minute to roll.
    const weight = opts.weight ?? 1;
    if (this.usedWeight1m !== null && this.usedWeight1m + weight > this.weightLimit * 0.9) {
      const windowMs = this.opts.weightWindowMs ?? 60_000;
      this.pacedRequests++;
      await sleep(this.clock, windowMs - (this.clock.now() % windowMs) + 50, this.closing.signal);
      if (this.closing.signal.aborted)
        throw new RestError('network', pathAndQuery, null, 'not sent: the client closed while waiting for the weight window to roll');
      this.usedWeight1m = null;
    }
    const url = new URL(pathAndQuery, this.opts.baseUrl);
    let status: number;
    let text: string;
    let headers: Record<string, string | string[] | undefined>;
    // The deadline is on the clock like every other duration; undici's own timeouts (wall time)
    // stay as a backstop of the same length.
    const deadline = new AbortController();
    let expired = false;
    const timer = this.clock.after(opts.timeoutMs, () => {
      expired = true;
      deadline.abort();
    });
    try {
      const res = await request(url, {
        method: 'GET',
        dispatcher: this.agent,
        signal: deadline.signal,
        headersTimeout: opts.timeoutMs,
        bodyTimeout: opts.timeoutMs,
      });
      status = res.statusCode;
      headers = res.headers;
      const ok = status >= 200 && status < 300;
      const read = await readBounded(res.body, ok ? LIMITS.MAX_REST_BODY_BYTES : LIMITS.MAX_REST_ERROR_BODY_BYTES, headers['content-length']);
      if (read.tooLarge && ok) {
        this.answered++;
        throw new RestError(
          'too_large',
          pathAndQuery,
          status,
          `body larger than ${LIMITS.MAX_REST_BODY_BYTES} bytes: refused unread (a hostile or broken server)`,
        );
      }
      text = read.text;
    } catch (e) {
      if (e instanceof RestError) throw e;
      const err = e as Error & { code?: string };
      const timedOut =
        expired || err.name === 'TimeoutError' || err.name === 'AbortError' || /timeout/i.test(err.code ?? '') || /timeout|aborted/i.test(err.message);
      throw new RestError(
        timedOut ? 'timeout' : 'network',
        pathAndQuery,
        null,
        `${timedOut ? 'timed out after' : 'failed within'} ${opts.timeoutMs} ms: ${safeMessage(err.message)}`,
      );
    } finally {
      timer.cancel();
    }
    this.answered++;
    const recvMs = this.clock.now();
    const wh = headers['x-mbx-used-weight-1m'];
    const used = Number(Array.isArray(wh) ? wh[0] : wh);
    if (Number.isFinite(used)) this.usedWeight1m = used;
    if (status >= 200 && status < 300) {
      this.opts.onBody?.(`rest:${pathAndQuery}`, text, recvMs);
      return { status, text, recvMs, usedWeight1m: this.usedWeight1m };
    }
    const retryAfterRaw = headers['retry-after'];
    const retryAfterS = Number(Array.isArray(retryAfterRaw) ? retryAfterRaw[0] : retryAfterRaw);
    const retryAfterMs = Number.isFinite(retryAfterS) && retryAfterS >= 0 ? retryAfterS * 1000 : null;
    // The body is the server's: it reaches the console, logs, the snapshot and the window.
    const detail = safeMessage(text, 200);
    if (status === 429 || status === 418) {
      // Without Retry-After, assume the minute window has to roll over.
      const waitMs = retryAfterMs ?? 60_000;
      this.blockedUntil = Math.max(this.blockedUntil, this.clock.now() + waitMs);
      this.lastBanStatus = status;
      throw new RestError(
        status === 418 ? 'banned' : 'rate_limited',
        pathAndQuery,
        status,
        `HTTP ${status}; waiting ${Math.ceil(waitMs / 1000)} s as told: ${detail}`,
        waitMs,
      );
    }
    if (status === 403 || status === 451) {
      throw new RestError('forbidden', pathAndQuery, status, `HTTP ${status}: access refused (WAF rule or region restriction): ${detail}`);
    }
    if (status >= 500) throw new RestError('server', pathAndQuery, status, `HTTP ${status}: exchange-side error, outcome unknown: ${detail}`);
    throw new RestError('client', pathAndQuery, status, `HTTP ${status}: ${detail}`);
  }

  async close(): Promise<void> {
    this.closing.abort();
    await this.agent.close();
  }
}
