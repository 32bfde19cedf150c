/**
 * Which alerts to raise and when (SPEC §21, seed 002 "local alerting"). Pure: every input carries
 * the caller's `now` (local ms); the engine returns the alerts to deliver and keeps no clock, no
 * timers and no I/O, so a test drives it with numbers.
 *
 * Aggregation, per key (a reason code, or a promotion's symbol): the first occurrence is alerted
 * at once and opens a cooldown; occurrences during the cooldown are counted, and when it ends they
 * are alerted as one aggregate `{count, first_ts_ms, last_ts_ms}` that opens the next cooldown.
 * So a flapping link or a cascade of promotions yields at most one alert per key per cooldown.
 */
import type { Alert } from '../core/contracts/alert';
import type { Severity } from '../core/contracts/audit';
import type { HealthState, ReasonCode } from '../core/contracts/vocabulary';
import { type AlertSettings, AlertSettingsSchema, type AlertSettingsInput } from './settings';

/** What the engine needs of a promoted event (M3 or a policy's). */
export interface PromotionFacts {
  symbol: string;
  event_id: string;
  window_end_ms: number;
  dominant_side?: string;
  stress_sources?: readonly string[];
}

export interface Condition {
  reason: ReasonCode;
  severity: Severity;
  symbol?: string;
  /** What happened and what to do, one line. */
  summary: string;
}

interface Pending {
  severity: Severity;
  count: number;
  first: number;
  last: number;
  summary: string;
}

interface KeyState {
  reason: ReasonCode;
  symbol: string;
  cooldownMs: number;
  until: number;
  pending: Pending | null;
}

const RANK: Record<Severity, number> = { INFO: 0, WARN: 1, CRIT: 2 };

function worse(a: Severity, b: Severity): Severity {
  return RANK[a] >= RANK[b] ? a : b;
}

export function promotionSummary(p: PromotionFacts): string {
  const side = p.dominant_side ? ` ${p.dominant_side}` : '';
  const stress = p.stress_sources && p.stress_sources.length > 0 ? ` (stress: ${p.stress_sources.join(', ')})` : '';
  return `PEAK PRESSURE ${p.symbol}${side}, window ending ${new Date(p.window_end_ms).toISOString()}${stress}`;
}

export class AlertEngine {
  readonly settings: AlertSettings;
  private readonly keys = new Map<string, KeyState>();
  private badSince: number | null = null;
  private badState: HealthState = 'OK';
  /** Health reasons already alerted in the current bad spell (a reason that clears and returns is alerted again). */
  private raised = new Set<ReasonCode>();
  private digest: { count: number; first: number; last: number; due: number; bySymbol: Map<string, number> } | null = null;

  constructor(settings: AlertSettingsInput = {}) {
    this.settings = AlertSettingsSchema.parse(settings);
  }

  /** A promoted event (any policy). */
  promotion(p: PromotionFacts, now: number): Alert[] {
    const mode = this.settings.promotions.mode;
    if (mode === 'off') return [];
    if (mode === 'digest') {
      if (this.digest === null) this.digest = { count: 0, first: now, last: now, due: now + this.settings.promotions.digestEveryMs, bySymbol: new Map() };
      const d = this.digest;
      d.count++;
      d.last = now;
      d.bySymbol.set(p.symbol, (d.bySymbol.get(p.symbol) ?? 0) + 1);
      return [];
    }
    return this.occur('PEAK_PRESSURE_PROMOTED', p.symbol, 'INFO', promotionSummary(p), now, this.settings.promotions.perSymbolCooldownMs);
  }

  /**
   * The health verdict of every commit. DEGRADED or FAILED continuously for longer than
   * `criticalAfterMs` alerts each reason present (WARN for DEGRADED, CRIT for FAILED); reasons that
   * appear later in the same spell are alerted when they appear.
   */
  health(state: HealthState, reasons: readonly ReasonCode[], now: number, detail = ''): Alert[] {
    if (state !== 'DEGRADED' && state !== 'FAILED') {
      this.badSince = null;
      this.badState = state;
      this.raised.clear();
      return [];
    }
    this.badSince ??= now;
    this.badState = state;
    for (const r of [...this.raised]) if (!reasons.includes(r)) this.raised.delete(r);
    if (now - this.badSince <= this.settings.criticalAfterMs) return [];
    const out: Alert[] = [];
    const secs = Math.round((now - this.badSince) / 1000);
    for (const r of reasons) {
      if (this.raised.has(r)) continue;
      this.raised.add(r);
      const summary = `health ${state} for ${secs} s (${r})${detail ? `: ${detail}` : ''}`;
      out.push(...this.occur(r, '', state === 'FAILED' ? 'CRIT' : 'WARN', summary, now, this.settings.cooldownMs));
    }
    return out;
  }

  /** Something to alert at once (a store fault, low disk, a write failure): aggregated like the rest. */
  raise(c: Condition, now: number): Alert[] {
    return this.occur(c.reason, c.symbol ?? '', c.severity, c.summary, now, this.settings.cooldownMs);
  }

  /** Call regularly (every commit): emits aggregates whose cooldown ended and a due digest. */
  tick(now: number): Alert[] {
    const out: Alert[] = [];
    for (const [key, st] of this.keys) {
      if (now < st.until) continue;
      if (st.pending === null) this.keys.delete(key);
      else out.push(this.flush(st, now));
    }
    const d = this.digest;
    if (d !== null && now >= d.due) {
      const parts = [...d.bySymbol.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([s, n]) => `${s} ${n}`);
      const mins = Math.round(this.settings.promotions.digestEveryMs / 60_000);
      out.push({
        severity: 'INFO',
        reason_code: 'PEAK_PRESSURE_PROMOTED',
        symbol: d.bySymbol.size === 1 ? (parts[0]?.split(' ')[0] ?? '') : '',
        count: d.count,
        first_ts_ms: d.first,
        last_ts_ms: d.last,
        ts_ms: now,
        kind: 'digest',
        summary: `${d.count} Peak Pressure event${d.count === 1 ? '' : 's'} in the last ${mins} min: ${parts.join(', ')}`,
      });
      this.digest = null;
    }
    return out;
  }

  /** For the snapshot/UI: whether health is in a spell long enough to be critical. */
  critical(now: number): { state: HealthState; since_ms: number } | null {
    return this.badSince !== null && now - this.badSince > this.settings.criticalAfterMs ? { state: this.badState, since_ms: this.badSince } : null;
  }

  private occur(reason: ReasonCode, symbol: string, severity: Severity, summary: string, now: number, cooldownMs: number): Alert[] {
    const key = `${reason}|${symbol}`;
    const st = this.keys.get(key);
    if (st !== undefined && now < st.until) {
      const p = (st.pending ??= { severity, count: 0, first: now, last: now, summary });
      p.count++;
      p.last = now;
      p.severity = worse(p.severity, severity);
      p.summary = summary;
      return [];
    }
    if (st !== undefined && st.pending !== null) {
      // The cooldown ended without a tick: the waiting aggregate goes first and this occurrence joins the next.
      const agg = this.flush(st, now);
      st.pending = { severity, count: 1, first: now, last: now, summary };
      return [agg];
    }
    this.keys.set(key, { reason, symbol, cooldownMs, until: now + cooldownMs, pending: null });
    return [{ severity, reason_code: reason, symbol, count: 1, first_ts_ms: now, last_ts_ms: now, ts_ms: now, kind: 'each', summary }];
  }

  private flush(st: KeyState, now: number): Alert {
    const p = st.pending as Pending;
    st.pending = null;
    st.until = now + st.cooldownMs;
    return {
      severity: p.severity,
      reason_code: st.reason,
      symbol: st.symbol,
      count: p.count,
      first_ts_ms: p.first,
      last_ts_ms: p.last,
      ts_ms: now,
      kind: 'aggregate',
      summary: p.count === 1 ? p.summary : `${p.count}× since the last alert; latest: ${p.summary}`,
    };
  }
}
