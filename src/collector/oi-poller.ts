/**
 * Open-interest polling (SPEC §10): every symbol every 5 s, spread evenly (one request every
 * interval/N), 5 s timeout, never two requests in flight for one symbol. 429/418 pause all
 * polling for Retry-After (and at least an exponential backoff 5 s → ×2 → 300 s, ±10 %);
 * 403/451 keep polling slowly and report DEGRADED. All of it on the injected clock.
 */
import type { Clock, Timer } from '../clock/clock';
import type { OiPollingState, RestBlock } from '../core/contracts/vocabulary';
import { Backoff, type BackoffPolicy } from './backoff';
import { RateMeter } from './health';
import { type RestClient, RestError } from './rest';

export interface OiPollerOptions {
  symbols: readonly string[];
  intervalMs: number;
  timeoutMs: number;
  clock: Clock;
  onError?: (symbol: string, err: RestError) => void;
}

/** The pause after a 429/418 when it is longer than Retry-After. */
export const OI_PENALTY: Readonly<BackoffPolicy> = Object.freeze({ initialMs: 5000, maxMs: 300_000, jitter: 0.1 });
/** A symbol whose last success is older than this makes the poller DEGRADED. */
const STALE_MS = 10_000;

export class OiPoller {
  readonly lastSuccessMs: Record<string, number | null> = {};
  errors = 0;
  lastError: string | null = null;
  /** Set while the exchange restricts us; cleared by the next success. */
  block: RestBlock | null = null;
  /** No request is sent before this time on the clock. */
  pausedUntil = 0;
  readonly polls = new RateMeter(60);

  private readonly clock: Clock;
  private timer: Timer | null = null;
  private cursor = 0;
  private readonly inFlight = new Set<string>();
  private penalty = Backoff.start(OI_PENALTY);

  constructor(
    private readonly rest: RestClient,
    private readonly opts: OiPollerOptions,
  ) {
    this.clock = opts.clock;
    for (const s of opts.symbols) this.lastSuccessMs[s] = null;
  }

  get state(): OiPollingState {
    if (this.timer === null) return 'IDLE';
    const now = this.clock.now();
    if (now < this.pausedUntil) return 'BACKOFF';
    if (this.block !== null) return 'DEGRADED';
    const stale = Object.values(this.lastSuccessMs).some((t) => t !== null && now - t > STALE_MS);
    return stale ? 'DEGRADED' : 'OK';
  }

  /** The end of the current pause, null when not paused. */
  get backoffUntilMs(): number | null {
    return this.pausedUntil > this.clock.now() ? this.pausedUntil : null;
  }

  /** Requests under way (one per symbol at most). */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  start(): void {
    if (this.timer) return;
    const step = Math.max(10, Math.floor(this.opts.intervalMs / Math.max(1, this.opts.symbols.length)));
    this.timer = this.clock.every(step, () => this.tick());
    this.tick();
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  private tick(): void {
    if (this.clock.now() < this.pausedUntil) return;
    const symbol = this.opts.symbols[this.cursor % this.opts.symbols.length] as string;
    this.cursor++;
    if (this.inFlight.has(symbol)) return;
    this.inFlight.add(symbol);
    this.rest
      .get(`/fapi/v1/openInterest?symbol=${symbol}`, { timeoutMs: this.opts.timeoutMs, weight: 1 })
      .then(
        (res) => {
          this.polls.add(this.clock.now());
          this.lastSuccessMs[symbol] = res.recvMs;
          this.penalty = this.penalty.reset();
          this.block = null;
        },
        (e: unknown) => {
          const err = e instanceof RestError ? e : new RestError('network', symbol, null, String(e));
          this.errors++;
          this.lastError = `${symbol}: ${err.message}`;
          if (err.kind === 'rate_limited' || err.kind === 'banned') {
            this.block = err.kind === 'banned' ? 'REST_BANNED_418' : 'REST_RATE_LIMITED_429';
            const next = this.penalty.next(this.clock.random());
            this.penalty = next.backoff;
            this.pausedUntil = this.clock.now() + Math.max(err.retryAfterMs ?? 0, next.delayMs);
          } else if (err.kind === 'forbidden') {
            this.block = 'REST_FORBIDDEN_403_451';
          }
          this.opts.onError?.(symbol, err);
        },
      )
      .finally(() => this.inFlight.delete(symbol));
  }
}
