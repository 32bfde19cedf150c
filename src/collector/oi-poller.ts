/**
 * Open-interest polling (SPEC §10): every symbol every 5 s, spread evenly (one request every
 * interval/N), 5 s timeout, never two requests in flight for one symbol. 429/418 pause all
 * polling for Retry-After (and at least an exponential backoff 5 s → ×2 → 300 s, ±10 %);
 * 403/451 keep polling slowly and report DEGRADED.
 */
import type { ReasonCode } from '../core/contracts/vocabulary';
import { RateMeter } from './health';
import { type RestClient, RestError } from './rest';

export interface OiPollerOptions {
  symbols: readonly string[];
  intervalMs: number;
  timeoutMs: number;
  /** Local clock for staleness bookkeeping. */
  clock?: () => number;
  onError?: (symbol: string, err: RestError) => void;
}

export class OiPoller {
  readonly lastSuccessMs: Record<string, number | null> = {};
  errors = 0;
  lastError: string | null = null;
  /** Set while the exchange restricts us; cleared by the next success. */
  block: Extract<ReasonCode, 'REST_RATE_LIMITED_429' | 'REST_BANNED_418' | 'REST_FORBIDDEN_403_451'> | null = null;
  pausedUntil = 0;
  readonly polls = new RateMeter(60);

  private readonly clock: () => number;
  private timer: NodeJS.Timeout | null = null;
  private cursor = 0;
  private readonly inFlight = new Set<string>();
  private penalty = 0;

  constructor(
    private readonly rest: RestClient,
    private readonly opts: OiPollerOptions,
  ) {
    this.clock = opts.clock ?? Date.now;
    for (const s of opts.symbols) this.lastSuccessMs[s] = null;
  }

  get state(): 'IDLE' | 'OK' | 'DEGRADED' | 'BACKOFF' {
    if (this.timer === null) return 'IDLE';
    if (Date.now() < this.pausedUntil) return 'BACKOFF';
    if (this.block !== null) return 'DEGRADED';
    const now = this.clock();
    const stale = Object.values(this.lastSuccessMs).some((t) => t !== null && now - t > 10_000);
    return stale ? 'DEGRADED' : 'OK';
  }

  start(): void {
    if (this.timer) return;
    const step = Math.max(10, Math.floor(this.opts.intervalMs / Math.max(1, this.opts.symbols.length)));
    this.timer = setInterval(() => this.tick(), step);
    this.tick();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private tick(): void {
    if (Date.now() < this.pausedUntil) return;
    const symbol = this.opts.symbols[this.cursor % this.opts.symbols.length] as string;
    this.cursor++;
    if (this.inFlight.has(symbol)) return;
    this.inFlight.add(symbol);
    this.rest
      .get(`/fapi/v1/openInterest?symbol=${symbol}`, { timeoutMs: this.opts.timeoutMs, weight: 1 })
      .then(
        (res) => {
          this.polls.add(this.clock());
          this.lastSuccessMs[symbol] = res.recvMs;
          this.penalty = 0;
          this.block = null;
        },
        (e: unknown) => {
          const err = e instanceof RestError ? e : new RestError('network', symbol, null, String(e));
          this.errors++;
          this.lastError = `${symbol}: ${err.message}`;
          if (err.kind === 'rate_limited' || err.kind === 'banned') {
            this.block = err.kind === 'banned' ? 'REST_BANNED_418' : 'REST_RATE_LIMITED_429';
            this.penalty = Math.min(300_000, this.penalty === 0 ? 5000 : this.penalty * 2);
            const jitter = 0.9 + Math.random() * 0.2;
            this.pausedUntil = Date.now() + Math.max(err.retryAfterMs ?? 0, this.penalty * jitter);
          } else if (err.kind === 'forbidden') {
            this.block = 'REST_FORBIDDEN_403_451';
          }
          this.opts.onError?.(symbol, err);
        },
      )
      .finally(() => this.inFlight.delete(symbol));
  }
}
