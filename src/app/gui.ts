/**
 * The Qt side of the app, loaded only after src/app/main.ts has checked that Qt can start.
 * Holds the latest snapshot, renders at most every 500 ms, and can start/stop the worker.
 * Restores the window layout at start and saves it when it has changed and settled.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { getHeapSpaceStatistics, getHeapStatistics, serialize } from 'node:v8';
import { QApplication, WidgetEventTypes } from '@nodegui/nodegui';
import { type Timer, wallClock } from '../clock/clock';
import type { PromotedEvent } from '../core/contracts/promoted';
import { AlertInbox } from '../alerts/inbox';
import type { Snapshot } from '../core/contracts/snapshot';
import type { CollectorConfig } from '../collector/config';
import type { ScaleOutSpec } from './scale-out-spec';
import { ensureDirSync } from '../files/dirs';
import { crashPolicy, WorkerHost } from '../ipc/host';
import { NearMissMirror } from '../ipc/ui-feed';
import { safeMessage } from '../text/safe';
import type { ClockSpec } from '../clock/accelerated';
import { type Layout, sameLayout } from '../widgets/layout';
import { layoutLocation, LayoutStore } from '../widgets/layout-store';
import type { History } from '../store/history';
import { toastView, type ToastView, toastViews } from '../widgets/alerts-view';
import { alertOutputs, tryTray } from '../widgets/alert-outputs';
import { historyTable } from '../widgets/history-view';
import { viewModel, type ViewModel } from '../widgets/view-model';
import { PeakPressureWindow, type WindowTexts } from '../widgets/window';
import { runsUnderQode, STOP_SIGNALS } from './platform';

export interface GuiOptions {
  config: CollectorConfig;
  runId: string;
  clock?: ClockSpec;
  /** `--sink` / `--http` (SPEC §22), started in the collector worker. */
  scaleOut?: ScaleOutSpec | null;
  /** UI self-test: after `renders` renders of a populated snapshot, save read-back + PNG in `dir`, then exit. */
  /** `boot`: capture whatever is shown (e.g. DEGRADED before any symbol is known) instead of waiting for data. */
  /** `selectRow`: select that row of the events table first, so the detail pane shows it (README screenshot). */
  uiTest?: { dir: string; renders: number; minEvents?: number; boot?: boolean; selectRow?: number };
  /** Benchmark diagnostic: append one JSON line of memory figures (both isolates) every 5 s. */
  footprintFile?: string;
  onExit?: () => void;
}

/** Main-thread time per activity, ms since start: what the app-footprint benchmark reads about the inside of the process (the outside it reads from /proc). */
interface BusyMs {
  pump: number;
  render: number;
  poll: number;
}

function footprintLine(latest: Snapshot | null, lastMessageBytes: number, busy: BusyMs, elu: number): string {
  const heap = getHeapStatistics();
  const spaces = Object.fromEntries(getHeapSpaceStatistics().map((sp) => [sp.space_name, { size: sp.space_size, used: sp.space_used_size }]));
  const mem = process.memoryUsage();
  return `${JSON.stringify({
    t: wallClock.now(),
    rss: mem.rss,
    main: { heap_total: heap.total_heap_size, heap_used: heap.used_heap_size, external: mem.external, array_buffers: mem.arrayBuffers, spaces },
    worker: latest?.process ?? null,
    events: latest?.counters.peak_pressure_events ?? 0,
    message_bytes: lastMessageBytes,
    main_busy_ms: { ...busy },
    main_event_loop_utilization: elu,
  })}\n`;
}

const RENDER_EVERY_MS = 500;
/**
 * How often Qt's event loop runs under plain Node (input, layout, paint; a render paints at once).
 * While the window is active (it has the keyboard): every 25 ms, 40 Hz, sooner than a reader
 * notices. While it is not (a dashboard watched while working elsewhere): every 100 ms; the click
 * that activates it is handled within that, then the fast rate resumes. An idle pump is not free:
 * with an empty window under Xvfb, 16 ms cost 0.8 % of a core, 33 ms 0.4 %.
 */
const PUMP_ACTIVE_MS = 25;
const PUMP_INACTIVE_MS = 100;
/** The layout is compared with the saved one this often, and written when it held still for one period. */
const LAYOUT_CHECK_EVERY_MS = 2500;
/** Header clicks and keyboard row moves have no NodeGui signal: the window reads them this often. */
const POLL_EVERY_MS = 200;

/** Calls Qt's event loop every so often (plain Node only: under qode, qode runs the loop). */
class Pump {
  private timer: Timer;
  private ms: number;

  constructor(
    private readonly run: () => void,
    ms: number,
  ) {
    this.ms = ms;
    this.timer = wallClock.every(ms, run);
  }

  every(ms: number): void {
    if (ms === this.ms) return;
    this.timer.cancel();
    this.ms = ms;
    this.timer = wallClock.every(ms, this.run);
  }

  stop(): void {
    this.timer.cancel();
  }
}

export function runGui(opts: GuiOptions): void {
  const app = QApplication.instance();
  app.setQuitOnLastWindowClosed(false);
  // Under plain Node nothing runs Qt's event loop; under qode (standard Windows/macOS install) qode does.
  const busy: BusyMs = { pump: 0, render: 0, poll: 0 };
  const timed = (key: keyof BusyMs, f: () => void) => (): void => {
    const t = performance.now();
    f();
    busy[key] += performance.now() - t;
  };
  const processEvents = timed('pump', () => app.processEvents());
  const pump = runsUnderQode() ? null : new Pump(processEvents, PUMP_INACTIVE_MS);

  let latest: Snapshot | null = null;
  /** Each update carries the near misses of the symbols whose list changed (src/ipc/ui-feed.ts): the rest are kept here. */
  const nearMisses = new NearMissMirror();
  /** The latest update as it crossed the thread boundary (the --footprint line measures it). */
  let lastPosted: Snapshot | null = null;
  /** Events that arrived with snapshots not rendered yet (each crosses the thread boundary once). */
  let pendingEvents: PromotedEvent[] = [];
  // Earlier runs' events (sent once at start; src/widgets/history-view.ts) and the alerts: the toast
  // stack, the tray and the sound, as the window's UI-local preferences say (src/alerts/inbox.ts).
  let history: History | null = null;
  const trayAttempt = tryTray(process.env.QT_QPA_PLATFORM);
  process.stderr.write(`peak-pressure: ${trayAttempt.line}\n`);
  // The sound is the terminal's bell: there is no other sound NodeGui can make without a media backend.
  const outputs = alertOutputs(trayAttempt, process.stderr.isTTY ? () => process.stderr.write('\x07') : null);
  const inbox = new AlertInbox(outputs);
  /** Shows the toasts still due: the stack's clock is the wall clock here, a number in tests. */
  const refreshToasts = (): void => window.showToasts(toastViews(inbox.visible(wallClock.now())));
  // UI test: every toast as it appeared (a WARN toast is gone after 8 s, before a slow machine reads back).
  const toastsShown: ToastView[] = [];
  // UI test: the newest toast as read back from the window's widgets when it appeared.
  const toastsRead: { text: string; color: string }[] = [];
  let rendered = -1;
  let fatal: { reason: string; detail: string } | null = null;
  /** A crashed worker is being replaced (the window's default policy): shown until the new run's first snapshot. */
  let restarting: { runId: string; title: string; body: string } | null = null;
  let populatedRenders = 0;
  let exiting = false;
  const renderTimes: number[] = [];

  const exit = (code: number): void => {
    if (exiting) return;
    exiting = true;
    void host.stop().then(() => {
      renderTimer.cancel();
      pollTimer.cancel();
      layoutTimer.cancel();
      footprintTimer?.cancel();
      saveLayout(true);
      pump?.stop();
      opts.onExit?.();
      app.exit(code);
      process.exit(code);
    });
  };

  const store = new LayoutStore();
  const saved = store.read();
  if (saved.problem !== null)
    process.stderr.write(`peak-pressure: ignored the saved window layout in ${layoutLocation()} (${saved.problem}); using the default layout\n`);
  const window = new PeakPressureWindow({
    onClose: () => exit(0),
    layout: saved.layout,
    onDismissToast: (id) => {
      inbox.dismiss(id);
      refreshToasts();
    },
    onAlertPrefs: (p) => inbox.setPrefs(p),
  });
  let active = false;
  window.win.addEventListener(WidgetEventTypes.WindowActivate, () => {
    active = true;
    pump?.every(PUMP_ACTIVE_MS);
  });
  window.win.addEventListener(WidgetEventTypes.WindowDeactivate, () => {
    active = false;
    pump?.every(PUMP_INACTIVE_MS);
  });
  let savedLayout: Layout | null = saved.layout;
  let seenLayout: Layout | null = null;
  /** Writes the layout when it changed and held still for one render (not on every splitter drag step). */
  const saveLayout = (now = false): void => {
    const current = window.layout();
    if (!sameLayout(current, savedLayout) && (now || sameLayout(current, seenLayout))) {
      store.write(current);
      savedLayout = current;
    }
    seenLayout = current;
  };
  // Keep the window reachable from a global: a collected wrapper would destroy the native widget.
  (globalThis as Record<string, unknown>).__peakPressureWindow = window;
  window.show();
  // A freshly opened window takes the keyboard, as window managers do; without one (Xvfb) nothing
  // would. The events table has it first: a focused filter field would blink its caret all day.
  window.win.activateWindow();
  window.events.table.setFocus();

  const host = new WorkerHost({
    config: opts.config,
    runId: opts.runId,
    ...(opts.clock ? { clock: opts.clock } : {}),
    scaleOut: opts.scaleOut ?? null,
    // The window restarts a crashed collector unless the config says `exit`: an unattended desktop keeps observing.
    crashPolicy: crashPolicy(opts.config, 'restart'),
    onRestartScheduled: ({ restart: r, runId }) => {
      const first = safeMessage(r.detail.split('\n')[0] ?? '');
      restarting = {
        runId,
        title: `RESTARTING: ${r.reason}`,
        body: `The collector worker crashed (${first}). A new one starts in ${Math.round(r.backoff_ms / 100) / 10} s as run ${runId} (restart ${r.in_window} of at most ${r.max} in the window).`,
      };
      process.stderr.write(`collector worker crashed (${r.reason}: ${first}); restarting it as run ${runId} in ${r.backoff_ms} ms\n`);
      render();
    },
    onSnapshot: (posted, events) => {
      lastPosted = posted;
      const s = nearMisses.merge(posted);
      latest = s;
      if (restarting !== null && s.run_id === restarting.runId) restarting = null;
      if (events.length > 0) pendingEvents = pendingEvents.concat(events);
    },
    consoleColor: process.stdout.isTTY === true && !process.env.NO_COLOR,
    onConsole: (line) => process.stdout.write(`${line}\n`),
    onAlert: (a) => {
      const now = wallClock.now();
      inbox.receive(a, now);
      const top = inbox.visible(now)[0];
      if (opts.uiTest && top?.alert === a && toastsShown.length < 50) toastsShown.push(toastView(top));
      refreshToasts();
      if (opts.uiTest && top?.alert === a) toastsRead.push(...window.readBack(0).toasts.slice(0, 1));
    },
    onHistory: (h) => {
      history = h;
      const table = historyTable(h);
      if (table !== null) window.showHistory(table);
    },
    onFatal: (reason, detail) => {
      fatal = { reason, detail };
      // One safe line; the full detail (a stack, for a crash) is in the log file.
      process.stderr.write(`collector ${reason}: ${safeMessage(detail.split('\n')[0] ?? '')} (details: ${join(opts.config.debugDir, 'collector.log')})\n`);
    },
    onInvalid: (e) => process.stderr.write(`ignored an invalid snapshot message: ${safeMessage(e)}\n`),
    // A worker that ended by itself took the collector with it: the window says FAILED, whatever it last showed.
    onExit: (code) => {
      if (exiting) return;
      fatal ??= { reason: 'WORKER_EXITED', detail: `the collector worker exited (code ${code}) without being asked to stop` };
      render();
    },
  });

  const render = (): void => {
    refreshToasts();
    const s = latest;
    if (s === null) return;
    if (s.snapshot_seq === rendered && fatal === null && restarting === null) return;
    // Stopping waits for the worker (the store closes last): no render, and no second UI-test read-back of the resized window, meanwhile.
    if (exiting) return;
    const t0 = performance.now();
    let vm: ViewModel = viewModel(s);
    if (fatal === null && restarting !== null) vm = { ...vm, failure: { title: restarting.title, body: restarting.body } };
    if (fatal !== null) {
      vm = {
        ...vm,
        failure: { title: `FAILED: ${fatal.reason}`, body: `${fatal.detail}\n\nRestart the app. The last snapshot is in debug/latest_snapshot.json.` },
      };
    }
    window.render(vm);
    window.addEvents(s.counters.peak_pressure_events, pendingEvents, s.symbols_active, (sym) => s.per_symbol[sym]?.price_precision ?? 2);
    pendingEvents = [];
    // Paint what changed now rather than at the next pump tick (up to 100 ms later when inactive).
    if (pump) processEvents();
    renderTimes.push(performance.now() - t0);
    rendered = s.snapshot_seq;
    const populated = s.symbols_active.length > 0 && Object.values(s.raw_buffers.trades).some((r) => r.length > 0);
    if (opts.uiTest && (opts.uiTest.boot === true || populated) && s.counters.peak_pressure_events >= (opts.uiTest.minEvents ?? 0)) {
      populatedRenders++;
      if (populatedRenders >= opts.uiTest.renders) {
        if (opts.uiTest.selectRow !== undefined) {
          window.events.table.selectRow(opts.uiTest.selectRow);
          window.poll();
        }
        // Let Qt lay out and paint what was just bound before reading it back.
        app.processEvents();
        const dir = opts.uiTest.dir;
        ensureDirSync(dir);
        const views: { name: string; width: number; height: number }[] = [
          { name: 'window', width: 1600, height: 1000 },
          // The smallest supported size: the same content must still lay out (SPEC §9: readable at 1280×800).
          { name: 'window-1280x800', width: 1280, height: 800 },
        ];
        // The tabs for what runs beside M3, each with the live data of this run (1600×1000).
        const tabs = ['order-books', 'liquidation-tape', 'four-pillars', 'sinks'];
        type Shot = { name: string; png: string | null; widgets: WindowTexts; layout: Layout };
        const shot = (name: string): Shot => {
          app.processEvents();
          const png = join(dir, `${name}.png`);
          return { name, png: window.grabPng(png) ? png : null, widgets: window.readBack(), layout: window.layout() };
        };
        // First the tabs (at the default size), then the whole window at each size, ending at the
        // smallest: what the window closes with is what the saved layout records.
        window.win.resize(1600, 1000);
        const tabShots = tabs.map((tab) => {
          window.openTab(tab);
          return shot(`tab-${tab}`);
        });
        window.openTab('events');
        const shots: Shot[] = views.map((v) => {
          window.win.resize(v.width, v.height);
          return shot(v.name);
        });
        writeFileSync(
          join(dir, 'ui-readback.json'),
          `${JSON.stringify(
            {
              snapshot: s,
              viewModel: vm,
              shots,
              tabShots,
              scale: process.env.QT_SCALE_FACTOR ?? '1',
              renderMs: renderTimes,
              history: historyTable(history),
              toasts: toastViews(inbox.visible(wallClock.now())),
              toastsShown,
              toastsRead,
              tabOrder: window.tabOrder(),
              tray: { line: trayAttempt.line, available: trayAttempt.tray !== null, messages: outputs.trayMessages, sounds: outputs.sounds },
              alertPrefs: inbox.prefs,
            },
            null,
            2,
          )}\n`,
        );
        process.stdout.write(`UI test: read back ${populatedRenders} renders into ${dir}\n`);
        exit(0);
      }
    }
  };
  const renderTimer = wallClock.every(RENDER_EVERY_MS, timed('render', render));
  // Nothing to read while the window is inactive: a click or key there would activate it first.
  const pollTimer = wallClock.every(
    POLL_EVERY_MS,
    timed('poll', () => {
      if (active) window.poll();
    }),
  );
  const layoutTimer = wallClock.every(LAYOUT_CHECK_EVERY_MS, () => saveLayout());
  const footprint = opts.footprintFile;
  let elu = performance.eventLoopUtilization();
  const footprintTimer =
    footprint === undefined
      ? null
      : wallClock.every(5000, () => {
          const bytes = lastPosted === null ? 0 : serialize({ snapshot: lastPosted, events: [] }).length;
          const now = performance.eventLoopUtilization();
          appendFileSync(footprint, footprintLine(latest, bytes, busy, performance.eventLoopUtilization(now, elu).utilization));
          elu = now;
        });
  for (const sig of STOP_SIGNALS) process.on(sig, () => exit(0));
}
