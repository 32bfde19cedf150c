/**
 * Exponential backoff as a small value (after nautilus_trader `crates/network/src/backoff.rs`):
 * the n-th retry waits min(max, initial·2ⁿ⁻¹), scaled by a jitter factor in [1 − jitter, 1 + jitter)
 * so that many clients dropped at once do not come back in step. Immutable: `next` returns the
 * backoff one attempt further, `reset` the one after a success.
 */
export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  /** Half-width of the jitter band as a fraction (0.2 = ±20 %). */
  jitter: number;
}

export class Backoff {
  private constructor(
    readonly policy: BackoffPolicy,
    /** Retries so far since the last reset. */
    readonly attempt: number,
  ) {}

  static start(policy: BackoffPolicy): Backoff {
    return new Backoff(policy, 0);
  }

  /** The next retry: how long to wait (whole ms) given `random` ∈ [0, 1), and the backoff after it. */
  next(random: number): { delayMs: number; backoff: Backoff } {
    const attempt = this.attempt + 1;
    return { delayMs: backoffDelayMs(this.policy, attempt, random), backoff: new Backoff(this.policy, attempt) };
  }

  reset(): Backoff {
    return this.attempt === 0 ? this : new Backoff(this.policy, 0);
  }
}

/** The wait before retry number `attempt` (1-based). */
export function backoffDelayMs(policy: BackoffPolicy, attempt: number, random: number): number {
  // 2^52 is past any cap; the exponent is clamped so a very long outage cannot overflow to Infinity·0.
  const nominal = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(Math.max(0, attempt - 1), 52));
  return Math.round(nominal * (1 - policy.jitter + 2 * policy.jitter * random));
}
