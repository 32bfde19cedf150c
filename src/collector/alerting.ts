/**
 * The collector's alerts (SPEC §21): what happens (a promotion, a health verdict, a store fault)
 * goes to the pure AlertEngine, which says what to alert after aggregation and cooldowns; each
 * alert goes to every channel (console line, ALERT_RAISED audit record, store row, and the window
 * through the worker's IPC). The engine reads time only from the `now` it is given.
 */
import { type AlertChannel, AlertDispatcher } from '../alerts/channels';
import { AlertEngine, type Condition } from '../alerts/engine';
import type { AlertSettingsInput } from '../alerts/settings';
import type { PromotedEvent } from '../core/contracts/promoted';
import { type StoreFault, storeReasonCode } from '../store/faults';
import type { HealthVerdict } from './health';

export class Alerting {
  private readonly engine: AlertEngine;
  private readonly dispatcher: AlertDispatcher;
  /** Alerts delivered (each one to every channel). */
  delivered = 0;

  constructor(settings: AlertSettingsInput, channels: readonly AlertChannel[]) {
    this.engine = new AlertEngine(settings);
    this.dispatcher = new AlertDispatcher(channels);
  }

  promotion(e: PromotedEvent, nowMs: number): void {
    this.deliver(this.engine.promotion(e, nowMs));
  }

  /** Every commit's verdict: DEGRADED or FAILED for longer than `criticalAfterMs` alerts its reasons. */
  health(v: HealthVerdict, nowMs: number): void {
    this.deliver(this.engine.health(v.state, v.reasons, nowMs, v.detail));
  }

  /** A store write failed: alerted at once (aggregated per reason like every alert). */
  storeFault(f: StoreFault, waiting: number, nowMs: number): void {
    const held = waiting > 0 ? `; ${waiting} promoted event${waiting === 1 ? '' : 's'} wait in memory and are shown once stored` : '';
    this.deliver(this.engine.raise({ reason: storeReasonCode(f.kind), severity: 'CRIT', summary: `${f.message}${held}` }, nowMs));
  }

  /** Anything else worth an alert (the doctor's findings): aggregated per reason like the rest. */
  raise(conditions: readonly Condition[], nowMs: number): void {
    for (const c of conditions) this.deliver(this.engine.raise(c, nowMs));
  }

  /** Aggregates whose cooldown ended, and a due digest. */
  tick(nowMs: number): void {
    this.deliver(this.engine.tick(nowMs));
  }

  /** Failed deliveries per channel. */
  get channelErrors(): ReadonlyMap<string, number> {
    return this.dispatcher.errors;
  }

  private deliver(alerts: ReturnType<AlertEngine['tick']>): void {
    if (alerts.length === 0) return;
    this.delivered += alerts.length;
    this.dispatcher.deliver(alerts);
  }
}
