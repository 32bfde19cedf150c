/**
 * The Qt side of the app, loaded only after src/app/main.ts has checked that Qt can start.
 * Holds the latest snapshot, renders at most every 500 ms, and can start/stop the worker.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { QApplication } from '@nodegui/nodegui';
import { AlertInbox } from '../alerts/inbox';
import { wallClock } from '../clock/clock';
import type { Snapshot } from '../core/contracts/snapshot';
import type { CollectorConfig } from '../collector/config';
import { ensureDirSync } from '../files/dirs';
import { WorkerHost } from '../ipc/host';
import { safeMessage } from '../text/safe';
import type { ClockSpec } from '../clock/accelerated';
import type { History } from '../store/history';
import { toastView, type ToastView, toastViews } from '../widgets/alerts-view';
import { historyView } from '../widgets/history-view';
import { viewModel, type ViewModel } from '../widgets/view-model';
import { PeakPressureWindow } from '../widgets/window';
import { runsUnderQode, STOP_SIGNALS } from './platform';

export interface GuiOptions {
  config: CollectorConfig;
  runId: string;
  clock?: ClockSpec;
  /** UI self-test: after `renders` renders of a populated snapshot, save read-back + PNG in `dir`, then exit. */
  /** `boot`: capture whatever is shown (e.g. DEGRADED before any symbol is known) instead of waiting for data. */
  uiTest?: { dir: string; renders: number; minEvents?: number; boot?: boolean };
  onExit?: () => void;
}

const RENDER_EVERY_MS = 500;

export function runGui(opts: GuiOptions): void {
  const app = QApplication.instance();
  app.setQuitOnLastWindowClosed(false);
  // Under plain Node nothing runs Qt's event loop; under qode (standard Windows/macOS install) qode does.
  const pump = runsUnderQode() ? null : wallClock.every(16, () => app.processEvents());

  let latest: Snapshot | null = null;
  // Earlier runs' events (sent once at start) and the alerts' toast stack: models for the window's
  // history section and toasts (src/widgets/history-view.ts, alerts-view.ts); no tray/sound sink yet.
  let history: History | null = null;
  const inbox = new AlertInbox(null);
  // UI test: every toast as it appeared (a WARN toast is gone after 8 s, before a slow machine reads back).
  const toastsShown: ToastView[] = [];
  let rendered = -1;
  let fatal: { reason: string; detail: string } | null = null;
  let populatedRenders = 0;
  let exiting = false;
  const renderTimes: number[] = [];

  const exit = (code: number): void => {
    if (exiting) return;
    exiting = true;
    void host.stop().then(() => {
      renderTimer.cancel();
      pump?.cancel();
      opts.onExit?.();
      app.exit(code);
      process.exit(code);
    });
  };

  const window = new PeakPressureWindow(() => exit(0));
  // Keep the window reachable from a global: a collected wrapper would destroy the native widget.
  (globalThis as Record<string, unknown>).__peakPressureWindow = window;
  window.show();

  const host = new WorkerHost({
    config: opts.config,
    runId: opts.runId,
    ...(opts.clock ? { clock: opts.clock } : {}),
    onSnapshot: (s) => {
      latest = s;
    },
    consoleColor: process.stdout.isTTY === true && !process.env.NO_COLOR,
    onConsole: (line) => process.stdout.write(`${line}\n`),
    onAlert: (a) => {
      const now = wallClock.now();
      inbox.receive(a, now);
      const top = inbox.visible(now)[0];
      if (opts.uiTest && top?.alert === a && toastsShown.length < 50) toastsShown.push(toastView(top));
    },
    onHistory: (h) => {
      history = h;
    },
    onFatal: (reason, detail) => {
      fatal = { reason, detail };
      // One safe line; the full detail (a stack, for a crash) is in the log file.
      process.stderr.write(`collector ${reason}: ${safeMessage(detail.split('\n')[0] ?? '')} (details: ${join(opts.config.debugDir, 'collector.log')})\n`);
    },
    onInvalid: (e) => process.stderr.write(`ignored an invalid snapshot message: ${safeMessage(e)}\n`),
  });

  const render = (): void => {
    const s = latest;
    if (s === null) return;
    if (s.snapshot_seq === rendered && fatal === null) return;
    // Stopping waits for the worker (the store closes last): no render, and no second UI-test read-back of the resized window, meanwhile.
    if (exiting) return;
    const t0 = performance.now();
    let vm: ViewModel = viewModel(s);
    if (fatal !== null) {
      vm = {
        ...vm,
        failure: { title: `FAILED: ${fatal.reason}`, body: `${fatal.detail}\n\nRestart the app. The last snapshot is in debug/latest_snapshot.json.` },
      };
    }
    window.render(vm);
    renderTimes.push(performance.now() - t0);
    rendered = s.snapshot_seq;
    const populated = s.symbols_active.length > 0 && Object.values(s.raw_buffers.trades).some((r) => r.length > 0);
    if (opts.uiTest && (opts.uiTest.boot === true || populated) && s.promoted_events.length >= (opts.uiTest.minEvents ?? 0)) {
      populatedRenders++;
      if (populatedRenders >= opts.uiTest.renders) {
        // Let Qt lay out and paint what was just bound before reading it back.
        app.processEvents();
        const dir = opts.uiTest.dir;
        ensureDirSync(dir);
        const png = join(dir, 'window.png');
        const saved = window.grabPng(png);
        const widgets = window.readBack();
        // The smallest supported size: the same content must still lay out (SPEC §9: readable at 1280×800).
        window.win.resize(1280, 800);
        app.processEvents();
        const small = join(dir, 'window-1280x800.png');
        const savedSmall = window.grabPng(small);
        const widgetsSmall = window.readBack();
        writeFileSync(
          join(dir, 'ui-readback.json'),
          `${JSON.stringify(
            {
              snapshot: s,
              viewModel: vm,
              widgets,
              widgetsSmall,
              png: saved ? png : null,
              pngSmall: savedSmall ? small : null,
              renderMs: renderTimes,
              history: historyView(history)?.text ?? null,
              toasts: toastViews(inbox.visible(wallClock.now())),
              toastsShown,
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
  const renderTimer = wallClock.every(RENDER_EVERY_MS, render);
  for (const sig of STOP_SIGNALS) process.on(sig, () => exit(0));
}
