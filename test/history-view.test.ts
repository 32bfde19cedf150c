/**
 * The window's models for issue 10 items 3 and 5, pure and driven by real events (the store
 * tests' fixture promotions) read back from a real store: the history section (earlier runs below
 * this run's, newest first, grouped and labelled by run, bounded), the IPC messages that carry it
 * and the alerts (validated like every message), the main thread's alert inbox (toasts always,
 * tray and sound as the UI-local preferences say), a toast's text, and the store's health line.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlertInbox } from '../src/alerts/inbox';
import type { UiAlertSink } from '../src/alerts/channels';
import type { Alert } from '../src/core/contracts/alert';
import type { PromotedEvent } from '../src/core/contracts/promoted';
import type { Snapshot } from '../src/core/contracts/snapshot';
import { IPC_VERSION, parseWorkerMessage } from '../src/ipc/messages';
import { type History, HISTORY_LIMIT, historyOf } from '../src/store/history';
import { EventStore } from '../src/store/store';
import { toastView } from '../src/widgets/alerts-view';
import { eventsWithHistory, HISTORY_SHOWN, historyView, runLabel } from '../src/widgets/history-view';
import { storeLine } from '../src/widgets/store-view';
import { eventBlock, formatDateTime } from '../src/widgets/view-model';
import { fixtureEvents, runStart, tempDir } from './store-helpers';

const T0 = 1_767_700_000_000;
const tmp = tempDir('pp-history-view-');
afterAll(() => tmp.cleanup());

let events: PromotedEvent[] = [];
let history: History;

beforeAll(async () => {
  process.env.TZ = 'UTC';
  events = await fixtureEvents();
  // Two earlier runs (the second with every event re-keyed) and the current one, in a real store.
  const store = EventStore.open({ path: join(tmp.dir, 'h.db'), isRunAlive: () => false }, T0);
  store.startRun(runStart('run-a', T0, { mode: 'LIVE_PEAK_PRESSURE' }), T0);
  store.persist({ events }, T0 + 1);
  store.close(T0 + 2);
  const b = EventStore.open({ path: join(tmp.dir, 'h.db'), isRunAlive: () => false }, T0 + 10);
  b.startRun(runStart('run-b', T0 + 10, { mode: 'DEMO' }), T0 + 10);
  b.persist({ events: events.map((e) => ({ ...e, event_id: `${e.event_id}-b`, window_end_ms: e.window_end_ms + 86_400_000 })) }, T0 + 11);
  b.close(T0 + 12);
  const now = EventStore.open({ path: join(tmp.dir, 'h.db'), isRunAlive: () => false }, T0 + 20);
  now.startRun(runStart('run-now', T0 + 20), T0 + 20);
  now.persist({ events: [{ ...(events[0] as PromotedEvent), event_id: 'mine' }] }, T0 + 21);
  history = historyOf(now.history('run-now', HISTORY_LIMIT));
  now.close(T0 + 22);
});

describe('history section of the Promoted Events panel', () => {
  it("earlier runs' events, newest first, grouped under their run's label; never this run's", () => {
    expect(history.skipped).toBe(0);
    expect(history.entries).toHaveLength(2 * events.length);
    expect(history.entries.some((e) => e.event.event_id === 'mine')).toBe(false);
    const v = historyView(history);
    expect(v).not.toBeNull();
    if (v === null) return;
    // run-b's events are a day later, so they come first.
    expect(v.groups.map((g) => g.run_id)).toEqual(['run-b', 'run-a']);
    expect(v.groups[0]?.label).toBe(`Run run-b — DEMO — started ${formatDateTime(T0 + 10)}`);
    expect(v.groups[1]?.label).toBe(runLabel({ run_id: 'run-a', run_mode: 'LIVE_PEAK_PRESSURE', run_started_ms: T0 }));
    const newestA = [...events].sort((x, y) => y.window_end_ms - x.window_end_ms || (x.symbol < y.symbol ? 1 : -1));
    expect(v.groups[1]?.blocks).toEqual(newestA.map((e) => eventBlock(e, 2)));
    expect(v.title).toBe(`=== EARLIER RUNS (${2 * events.length} events, newest first) ===`);
    expect(v.more).toBeNull();
    expect(v.text.split('\n')[0]).toBe(v.title);
    expect(v.text).toContain(`--- ${v.groups[0]?.label} ---`);
  });

  it('bounded: the first HISTORY_SHOWN written in full, the rest counted; precision from this run where known', () => {
    const many: History = { entries: Array.from({ length: HISTORY_SHOWN + 7 }, (_, i) => history.entries[i % history.entries.length]!), skipped: 0 };
    const v = historyView(many, (sym) => (sym === events[0]?.symbol ? 4 : undefined));
    expect(v?.groups.reduce((n, g) => n + g.blocks.length, 0)).toBe(HISTORY_SHOWN);
    expect(v?.more).toBe('… 7 older events not shown (all are in the store: peak-pressure events)');
    const first = many.entries.find((e) => e.event.symbol === events[0]?.symbol);
    expect(v?.text).toContain(eventBlock(first!.event, 4));
  });

  it('an empty history says so; none (not received, headless) adds nothing; it goes below this run', () => {
    expect(historyView({ entries: [], skipped: 0 })?.text).toBe('=== EARLIER RUNS (0 events, newest first) ===\n\nNo events from earlier runs in the store.');
    expect(historyView(null)).toBeNull();
    expect(eventsWithHistory('THIS RUN', null)).toBe('THIS RUN');
    const v = historyView(history);
    expect(eventsWithHistory('THIS RUN', v)).toBe(`THIS RUN\n\n${v?.text}`);
  });

  it('a stored row that is not an M3 event is skipped and counted, not sent', () => {
    const row = { policy_id: 'x', policy_version: 1, event_id: 'p', run_id: 'r', symbol: 'BTCUSDT', window_start_ms: 0, window_end_ms: 1000, stored_ms: 0 };
    const h = historyOf([
      { ...row, json: '{"policy":{"id":"four-pillars-001","version":1}}', run_started_ms: 0, run_mode: 'DEMO' },
      { ...row, json: 'not json', run_started_ms: null, run_mode: null },
    ]);
    expect(h).toEqual({ entries: [], skipped: 2 });
  });
});

describe('IPC: history and alert messages are validated like the others', () => {
  const alert: Alert = {
    severity: 'CRIT',
    reason_code: 'STORE_BUSY',
    symbol: '',
    count: 3,
    first_ts_ms: T0,
    last_ts_ms: T0 + 20_000,
    ts_ms: T0 + 60_000,
    kind: 'aggregate',
    summary: 'event store data/peak-pressure.db: persist failed (SQLITE_BUSY: database is locked); …',
  };

  it('accepts them as sent, refuses them malformed or over the bound', () => {
    expect(parseWorkerMessage({ v: IPC_VERSION, type: 'alert', alert }).ok).toBe(true);
    expect(parseWorkerMessage({ v: IPC_VERSION, type: 'alert', alert: { ...alert, severity: 'LOUD' } }).ok).toBe(false);
    expect(parseWorkerMessage({ v: IPC_VERSION, type: 'history', ...history }).ok).toBe(true);
    const bad = { ...history, entries: [{ ...history.entries[0], event: { event_id: 'x' } }] };
    expect(parseWorkerMessage({ v: IPC_VERSION, type: 'history', ...bad }).ok).toBe(false);
    const tooMany = { entries: Array.from({ length: HISTORY_LIMIT + 1 }, () => history.entries[0]), skipped: 0 };
    expect(parseWorkerMessage({ v: IPC_VERSION, type: 'history', ...tooMany })).toMatchObject({ ok: false, error: expect.stringContaining('entries') });
  });

  it("the inbox: a toast for every alert; tray and sound as the window's preferences say; mute is local", () => {
    const calls: string[] = [];
    const sink: UiAlertSink = {
      trayAvailable: true,
      toast: () => calls.push('sink-toast'),
      tray: (a) => calls.push(`tray ${a.reason_code}`),
      sound: () => calls.push('sound'),
    };
    const inbox = new AlertInbox(sink);
    inbox.receive(alert, 1_000);
    expect(calls).toEqual(['tray STORE_BUSY']);
    inbox.setPrefs({ sound: true });
    inbox.receive({ ...alert, reason_code: 'PEAK_PRESSURE_PROMOTED', severity: 'INFO', symbol: 'ETHUSDT', count: 1, kind: 'each' }, 2_000);
    expect(calls).toEqual(['tray STORE_BUSY', 'tray PEAK_PRESSURE_PROMOTED', 'sound']);
    inbox.setPrefs({ muted: true });
    inbox.receive(alert, 3_000);
    expect(calls).toHaveLength(3);
    expect(inbox.received).toBe(3);
    // Toasts are the window's own (never the sink's toast): newest first; INFO goes after 8 s, CRIT after 30 s.
    expect(inbox.visible(3_000).map((t) => t.alert.reason_code)).toEqual(['STORE_BUSY', 'PEAK_PRESSURE_PROMOTED', 'STORE_BUSY']);
    expect(inbox.visible(10_000).map((t) => t.alert.reason_code)).toEqual(['STORE_BUSY', 'STORE_BUSY']);
    const noTray = new AlertInbox(null);
    noTray.receive(alert, 0);
    expect(noTray.visible(0)).toHaveLength(1);
  });

  it("a toast's text: severity, what, symbol and time; the summary; the aggregation when it stands for more than one", () => {
    const v = toastView({ id: 7, alert, shown_ms: 0, until_ms: 1 });
    expect(v).toEqual({
      id: 7,
      title: 'CRIT STORE_BUSY · 11:47:40',
      body: `${alert.summary}\n3 times, 11:46:40 – 11:47:00`,
      color: '#F44336',
    });
    const promo = toastView({
      id: 8,
      alert: { ...alert, severity: 'INFO', reason_code: 'PEAK_PRESSURE_PROMOTED', symbol: 'SOLUSDT', count: 1, kind: 'each', summary: 's' },
      shown_ms: 0,
      until_ms: 1,
    });
    expect(promo.title).toBe('INFO Peak Pressure SOLUSDT · 11:47:40');
    expect(promo.body).toBe('s');
  });
});

describe("the store's health-panel line", () => {
  const base = {
    path: 'data/peak-pressure.db',
    driver: 'native' as const,
    since_ms: null,
    dropped_events: 0,
    events_written: 12,
    persist: { writes: 40, window: 40, p50_ms: 0.4, p99_ms: 6.25, max_ms: 9 },
  };
  const snap = (store: Snapshot['store']): Snapshot => ({ store }) as Snapshot;
  it('says whether events are recorded, and while not, why and how many wait', () => {
    expect(storeLine(snap({ ...base, state: 'OK', reason: null, fault: null, pending_events: 0 }))).toBe(
      'Event store: OK (data/peak-pressure.db), 12 events stored this run, commit p99 6.3 ms',
    );
    expect(storeLine(snap({ ...base, driver: 'wasm', state: 'OK', reason: null, fault: null, pending_events: 0 }))).toBe(
      'Event store: OK (data/peak-pressure.db, wasm driver), 12 events stored this run, commit p99 6.3 ms',
    );
    expect(storeLine(snap({ ...base, state: 'FAILING', reason: 'STORE_BUSY', fault: 'locked', pending_events: 2, dropped_events: 1 }))).toBe(
      'Event store: FAILING (STORE_BUSY) — 2 events wait to be stored and shown; 1 lost (queue full; still in debug/audit.jsonl)',
    );
    expect(storeLine(snap(null))).toBe('Event store: none (replay)');
  });
});
