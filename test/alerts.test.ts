/**
 * Alerts (SPEC §21): aggregation with a per-reason cooldown, the 30 s rule for critical health,
 * per-symbol cooldown and digest for promotions (driven by the real promotions of a capture
 * replay), and the channels observable headless: console, audit (the real AuditTrail's JSONL) and
 * store (a real SQLite file). The engine is pure, so every time here is a number.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AlertChannel,
  AlertDispatcher,
  alertText,
  auditChannel,
  consoleChannel,
  DEFAULT_UI_ALERT_PREFS,
  storeChannel,
  uiChannel,
  type UiAlertSink,
} from '../src/alerts/channels';
import { AlertEngine } from '../src/alerts/engine';
import { ToastStack } from '../src/alerts/toasts';
import { AuditTrail } from '../src/collector/audit';
import type { Alert } from '../src/core/contracts/alert';
import { AlertSchema } from '../src/core/contracts/alert';
import { AuditEnvelopeSchema } from '../src/core/contracts/audit';
import type { PromotedEvent } from '../src/core/contracts/promoted';
import type { HealthState, ReasonCode } from '../src/core/contracts/vocabulary';
import { runReplay } from '../src/replay/replay';
import { EventStore } from '../src/store/store';
import { FIXTURE_FILES, haveShared, SHARED_HFT_2024 } from './fixtures/paths';
import { FULL_2024_RECV_SPAN, writeOiCapture } from './fixtures/synthetic';
import { runStart, tempDir } from './store-helpers';

const S = 1_000;
const T0 = 1_800_000_000_000;
const tmp = tempDir('pp-alerts-');
afterAll(() => tmp.cleanup());

const fault = { reason: 'STORE_BUSY' as const, severity: 'CRIT' as const, summary: 'event store locked' };

describe('aggregation and the per-reason cooldown', () => {
  it('alerts the first occurrence at once, folds the rest of the cooldown into one aggregate, then goes idle', () => {
    const e = new AlertEngine();
    const first = e.raise(fault, T0);
    expect(first).toEqual([
      {
        severity: 'CRIT',
        reason_code: 'STORE_BUSY',
        symbol: '',
        count: 1,
        first_ts_ms: T0,
        last_ts_ms: T0,
        ts_ms: T0,
        kind: 'each',
        summary: 'event store locked',
      },
    ]);
    for (const t of [10, 20, 50]) expect(e.raise(fault, T0 + t * S)).toEqual([]);
    expect(e.tick(T0 + 59_999)).toEqual([]);
    const agg = e.tick(T0 + 60 * S);
    expect(agg).toHaveLength(1);
    expect(agg[0]).toMatchObject({ kind: 'aggregate', count: 3, first_ts_ms: T0 + 10 * S, last_ts_ms: T0 + 50 * S, ts_ms: T0 + 60 * S });
    expect(agg[0]?.summary).toBe('3× since the last alert; latest: event store locked');
    // The aggregate opened a new cooldown: one more occurrence waits for it.
    expect(e.raise(fault, T0 + 61 * S)).toEqual([]);
    expect(e.tick(T0 + 119 * S)).toEqual([]);
    expect(e.tick(T0 + 120 * S)).toMatchObject([{ kind: 'aggregate', count: 1, first_ts_ms: T0 + 61 * S }]);
    expect(e.tick(T0 + 180 * S)).toEqual([]);
    // Idle again: the next occurrence is alerted at once.
    expect(e.raise(fault, T0 + 200 * S)).toMatchObject([{ kind: 'each', count: 1 }]);
    for (const a of [...first, ...agg]) AlertSchema.parse(a);
  });

  it('keeps reasons apart, takes the worst severity into an aggregate, and catches up when no tick came', () => {
    const e = new AlertEngine({ cooldownMs: 10 * S });
    expect(e.raise({ reason: 'OI_STALE', severity: 'INFO', summary: 'a' }, T0)).toHaveLength(1);
    expect(e.raise({ reason: 'STORE_DISK_FULL', severity: 'CRIT', summary: 'b' }, T0)).toHaveLength(1);
    e.raise({ reason: 'OI_STALE', severity: 'WARN', summary: 'c' }, T0 + 1 * S);
    e.raise({ reason: 'OI_STALE', severity: 'INFO', summary: 'd' }, T0 + 2 * S);
    // No tick at the cooldown's end: the next occurrence first releases the waiting aggregate.
    const late = e.raise({ reason: 'OI_STALE', severity: 'INFO', summary: 'e' }, T0 + 30 * S);
    expect(late).toMatchObject([{ reason_code: 'OI_STALE', kind: 'aggregate', severity: 'WARN', count: 2, first_ts_ms: T0 + 1 * S, last_ts_ms: T0 + 2 * S }]);
    expect(e.tick(T0 + 40 * S)).toMatchObject([{ reason_code: 'OI_STALE', count: 1, first_ts_ms: T0 + 30 * S, summary: 'e' }]);
  });
});

/** Drives the engine like the collector: a health verdict and a tick every 500 ms. */
function runHealth(e: AlertEngine, from: number, to: number, at: (t: number) => { state: HealthState; reasons: ReasonCode[] }): Alert[] {
  const out: Alert[] = [];
  for (let t = from; t <= to; t += 500) {
    const h = at(t);
    out.push(...e.health(h.state, h.reasons, t), ...e.tick(t));
  }
  return out;
}

describe('critical health: DEGRADED or FAILED for more than 30 s', () => {
  it('alerts each reason once the spell passes 30 s, WARN for DEGRADED, CRIT for FAILED, not again while it lasts', () => {
    const e = new AlertEngine();
    const alerts = runHealth(e, T0, T0 + 5 * 60 * S, (t) =>
      t < T0 + 100 * S
        ? { state: 'DEGRADED', reasons: t < T0 + 60 * S ? ['OI_STALE'] : ['OI_STALE', 'WS_RECONNECTING'] }
        : { state: 'FAILED', reasons: ['TIME_REGRESSION'] },
    );
    expect(alerts.map((a) => [a.reason_code, a.severity, a.kind, a.ts_ms - T0])).toEqual([
      ['OI_STALE', 'WARN', 'each', 30_500],
      ['WS_RECONNECTING', 'WARN', 'each', 60_000],
      ['TIME_REGRESSION', 'CRIT', 'each', 100_000],
    ]);
    expect(alerts[0]?.summary).toBe('health DEGRADED for 31 s (OI_STALE)');
    expect(e.critical(T0 + 5 * 60 * S)).toEqual({ state: 'FAILED', since_ms: T0 });
  });

  it('a link that flaps in spells shorter than 30 s never alerts; longer spells alert at most once per cooldown, counting every spell', () => {
    const short = runHealth(new AlertEngine(), T0, T0 + 10 * 60 * S, (t) =>
      (t - T0) % (22 * S) < 20 * S ? { state: 'DEGRADED', reasons: ['WS_RECONNECTING'] } : { state: 'OK', reasons: [] },
    );
    expect(short).toEqual([]);
    const period = 42 * S;
    const long = runHealth(new AlertEngine(), T0, T0 + 10 * 60 * S + 2 * 60 * S, (t) =>
      t < T0 + 10 * 60 * S && (t - T0) % period < 40 * S ? { state: 'DEGRADED', reasons: ['WS_RECONNECTING'] } : { state: 'OK', reasons: [] },
    );
    const spellsPastThirty = Math.floor((10 * 60 * S) / period) + ((10 * 60 * S) % period > 30 * S ? 1 : 0);
    expect(long.reduce((s, a) => s + a.count, 0)).toBe(spellsPastThirty);
    for (let i = 1; i < long.length; i++) expect((long[i] as Alert).ts_ms - (long[i - 1] as Alert).ts_ms).toBeGreaterThanOrEqual(60 * S);
    expect(long.length).toBeLessThanOrEqual(Math.ceil((12 * 60 * S) / (60 * S)) + 1);
  });

  it('STARTING is not critical, and OK ends the spell', () => {
    const e = new AlertEngine();
    expect(runHealth(e, T0, T0 + 120 * S, () => ({ state: 'STARTING', reasons: [] }))).toEqual([]);
    expect(e.critical(T0 + 120 * S)).toBeNull();
  });
});

// ---- promotions: the real promotions of a capture replay ---------------------------------------

let promotions: PromotedEvent[] = [];
beforeAll(async () => {
  const full = haveShared(SHARED_HFT_2024, 'alerts on the promotions of the full 2024-08-08 capture');
  const files = full
    ? [...SHARED_HFT_2024, writeOiCapture(join(tmp.dir, 'oi-full.capture'), ['BTCUSDT', 'ETHUSDT'], FULL_2024_RECV_SPAN)]
    : [...FIXTURE_FILES, writeOiCapture(join(tmp.dir, 'oi.capture'))];
  await runReplay({ files, onPromotion: (e) => promotions.push(e) });
  promotions = promotions.sort((a, b) => a.closed_at_watermark_ms - b.closed_at_watermark_ms);
}, 120_000);

/** Each promotion at the exchange time it was decided (a live collector would see it then). */
function feedPromotions(e: AlertEngine): Alert[] {
  const out: Alert[] = [];
  const last = (promotions[promotions.length - 1] as PromotedEvent).closed_at_watermark_ms;
  let i = 0;
  for (let t = (promotions[0] as PromotedEvent).closed_at_watermark_ms; t <= last + 10 * 60 * S; t += 500) {
    while (i < promotions.length && (promotions[i] as PromotedEvent).closed_at_watermark_ms <= t) out.push(...e.promotion(promotions[i++] as PromotedEvent, t));
    out.push(...e.tick(t));
  }
  return out;
}

describe('promotion alerts on real promotions', () => {
  it('each: at most one alert per symbol per cooldown, and the counts add up to every promotion', () => {
    expect(promotions.length).toBeGreaterThanOrEqual(3);
    const alerts = feedPromotions(new AlertEngine());
    expect(alerts.reduce((s, a) => s + a.count, 0)).toBe(promotions.length);
    const symbols = [...new Set(promotions.map((p) => p.symbol))];
    for (const sym of symbols) {
      const mine = alerts.filter((a) => a.symbol === sym);
      expect(mine[0]?.kind).toBe('each');
      expect(mine[0]?.summary).toMatch(new RegExp(`^PEAK PRESSURE ${sym} (BUY|SELL), window ending \\d{4}-\\d{2}-\\d{2}T.*Z \\(stress: oi_change\\)$`));
      for (let i = 1; i < mine.length; i++) expect((mine[i] as Alert).ts_ms - (mine[i - 1] as Alert).ts_ms).toBeGreaterThanOrEqual(60 * S);
      expect(mine.reduce((s, a) => s + a.count, 0)).toBe(promotions.filter((p) => p.symbol === sym).length);
    }
    for (const a of alerts) expect(a).toMatchObject({ severity: 'INFO', reason_code: 'PEAK_PRESSURE_PROMOTED' });
  });

  it('digest: one summary per 5 minutes with per-symbol counts; off: nothing', () => {
    const alerts = feedPromotions(new AlertEngine({ promotions: { mode: 'digest' } }));
    expect(alerts.every((a) => a.kind === 'digest')).toBe(true);
    expect(alerts.reduce((s, a) => s + a.count, 0)).toBe(promotions.length);
    for (let i = 1; i < alerts.length; i++) expect((alerts[i] as Alert).ts_ms - (alerts[i - 1] as Alert).ts_ms).toBeGreaterThanOrEqual(5 * 60 * S);
    const first = alerts[0] as Alert;
    const inFirst = promotions.filter((p) => p.closed_at_watermark_ms <= first.ts_ms);
    const counts = new Map<string, number>();
    for (const p of inFirst) counts.set(p.symbol, (counts.get(p.symbol) ?? 0) + 1);
    expect(first.count).toBe(inFirst.length);
    for (const [sym, n] of counts) expect(first.summary).toContain(`${sym} ${n}`);
    expect(first.summary).toMatch(/^\d+ Peak Pressure events? in the last 5 min: /);
    expect(feedPromotions(new AlertEngine({ promotions: { mode: 'off' } }))).toEqual([]);
  });
});

// ---- channels ----------------------------------------------------------------------------------

const sample: Alert = {
  severity: 'WARN',
  reason_code: 'OI_STALE',
  symbol: '',
  count: 4,
  first_ts_ms: T0,
  last_ts_ms: T0 + 50 * S,
  ts_ms: T0 + 60 * S,
  kind: 'aggregate',
  summary: 'health DEGRADED for 31 s (OI_STALE), "quoted", with a comma',
};

describe('channels observable headless', () => {
  it('console: one highlighted line with severity, reason, count, first time and summary', () => {
    const lines: string[] = [];
    consoleChannel((l) => lines.push(l), { color: false }).deliver(sample);
    consoleChannel((l) => lines.push(l), { color: true, format: (ms, m) => `<${ms}> ${m}` }).deliver(sample);
    expect(lines[0]).toBe(`[${new Date(T0 + 60 * S).toISOString()}] !! ALERT WARN OI_STALE ×4 since ${new Date(T0).toISOString()} — ${sample.summary}`);
    // The highlight wraps the formatted line: the collector's formatter (consoleLine) escapes control characters inside it.
    expect(lines[1]).toBe(`\x1b[1;30;43m<${T0 + 60 * S}> ${alertText(sample)}\x1b[0m`);
  });

  it("audit: an ALERT_RAISED record through the real AuditTrail, in the audit envelope's contract", async () => {
    const path = join(tmp.dir, 'audit.jsonl');
    const trail = new AuditTrail(
      path,
      'run-x',
      () => T0 + 61 * S,
      () => 'OBSERVE',
    );
    auditChannel(trail).deliver(sample);
    await trail.close();
    const env = AuditEnvelopeSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
    expect(env).toEqual({
      ts_ms: T0 + 61 * S,
      run_id: 'run-x',
      seq: 1,
      stage: 'OBSERVE',
      event_type: 'ALERT_RAISED',
      symbol: '',
      reasons: ['OI_STALE'],
      severity: 'WARN',
      payload: { reason_code: 'OI_STALE', count: 4, first_ts_ms: T0, last_ts_ms: T0 + 50 * S, kind: 'aggregate', summary: sample.summary },
    });
  });

  it("store: a row of the store's alerts table, written with the next persist", () => {
    const store = EventStore.open({ path: join(tmp.dir, 'alerts.db') }, T0);
    store.startRun(runStart('run-s', T0), T0);
    storeChannel(store).deliver(sample);
    expect(store.persist({}, T0 + 1)).toMatchObject({ ok: true, alerts_inserted: 1 });
    expect(store.alertRows()).toEqual([{ ...sample, run_id: 'run-s' }]);
    store.close(T0 + 2);
  });

  it('a failing channel is counted and never stops the others', () => {
    const got: string[] = [];
    const broken: AlertChannel = {
      name: 'broken',
      deliver: () => {
        throw new Error('tray gone');
      },
    };
    const d = new AlertDispatcher([broken, consoleChannel((l) => got.push(l), { color: false })]);
    expect(() => d.deliver([sample, sample])).not.toThrow();
    expect(got).toHaveLength(2);
    expect(d.errors.get('broken')).toBe(2);
    expect(d.lastError).toBe('broken: tray gone');
  });
});

describe("the window's channels (interface and preferences; the widgets are the UI's)", () => {
  function sink(trayAvailable: boolean): UiAlertSink & { calls: string[] } {
    const calls: string[] = [];
    return {
      trayAvailable,
      calls,
      toast: (a) => calls.push(`toast ${a.reason_code}`),
      tray: (a) => calls.push(`tray ${a.reason_code}`),
      sound: (a) => calls.push(`sound ${a.reason_code}`),
    };
  }

  it('toast always; tray where there is one; sound only when switched on; mute silences tray and sound', () => {
    const a = sink(true);
    uiChannel(a, () => DEFAULT_UI_ALERT_PREFS).deliver(sample);
    expect(a.calls).toEqual(['toast OI_STALE', 'tray OI_STALE']);
    const b = sink(false);
    uiChannel(b, () => ({ ...DEFAULT_UI_ALERT_PREFS, sound: true })).deliver(sample);
    expect(b.calls).toEqual(['toast OI_STALE', 'sound OI_STALE']);
    const c = sink(true);
    uiChannel(c, () => ({ sound: true, tray: true, muted: true })).deliver(sample);
    expect(c.calls).toEqual(['toast OI_STALE']);
  });

  it('toasts stack newest first, at most 4, and dismiss themselves (CRIT stays longer)', () => {
    const st = new ToastStack();
    const crit: Alert = { ...sample, severity: 'CRIT', reason_code: 'STORE_DISK_FULL' };
    st.push(crit, 0);
    for (let i = 1; i <= 4; i++) st.push({ ...sample, count: i }, i * S);
    expect(st.visible(4 * S).map((t) => t.alert.count)).toEqual([4, 3, 2, 1]);
    expect(st.overflowed).toBe(1);
    const fresh = new ToastStack();
    fresh.push(crit, 0);
    const info = fresh.push(sample, 0);
    expect(fresh.visible(7_999).length).toBe(2);
    expect(fresh.visible(8_000).map((t) => t.alert.reason_code)).toEqual(['STORE_DISK_FULL']);
    const later = fresh.push(sample, 9_000);
    fresh.dismiss(info.id);
    expect(fresh.visible(16_999).map((t) => t.id)).toEqual([later.id, 1]);
    fresh.dismiss(later.id);
    expect(fresh.visible(10_000).map((t) => t.alert.reason_code)).toEqual(['STORE_DISK_FULL']);
    expect(fresh.visible(29_999).length).toBe(1);
    expect(fresh.visible(30_000).length).toBe(0);
  });
});
