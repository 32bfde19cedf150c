/**
 * The Qt side of the app, loaded only after src/app/main.ts has checked that Qt can start.
 * Holds the latest snapshot, renders at most every 500 ms, and can start/stop the worker.
 * Restores the window layout at start and saves it when it has changed and settled.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { QApplication } from '@nodegui/nodegui';
import type { Snapshot } from '../core/contracts/snapshot';
import type { CollectorConfig } from '../collector/config';
import { WorkerHost } from '../ipc/host';
import type { ClockSpec } from '../ipc/messages';
import { type Layout, sameLayout } from '../widgets/layout';
import { layoutLocation, LayoutStore } from '../widgets/layout-store';
import { viewModel, type ViewModel } from '../widgets/view-model';
import { PeakPressureWindow, type WindowTexts } from '../widgets/window';

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
/** Header clicks and keyboard row moves have no NodeGui signal: the window reads them this often. */
const POLL_EVERY_MS = 100;

export function runGui(opts: GuiOptions): void {
  const app = QApplication.instance();
  app.setQuitOnLastWindowClosed(false);
  // Under plain Node nothing runs Qt's event loop; under qode (standard Windows/macOS install) qode does.
  const underQode = typeof (process.versions as Record<string, string | undefined>).qode === 'string';
  const pump = underQode ? null : setInterval(() => app.processEvents(), 16);

  let latest: Snapshot | null = null;
  let rendered = -1;
  let fatal: { reason: string; detail: string } | null = null;
  let populatedRenders = 0;
  let exiting = false;
  const renderTimes: number[] = [];

  const exit = (code: number): void => {
    if (exiting) return;
    exiting = true;
    void host.stop().then(() => {
      clearInterval(renderTimer);
      clearInterval(pollTimer);
      saveLayout(true);
      if (pump) clearInterval(pump);
      opts.onExit?.();
      app.exit(code);
      process.exit(code);
    });
  };

  const store = new LayoutStore();
  const saved = store.read();
  if (saved.problem !== null)
    process.stderr.write(`peak-pressure: ignored the saved window layout in ${layoutLocation()} (${saved.problem}); using the default layout\n`);
  const window = new PeakPressureWindow({ onClose: () => exit(0), layout: saved.layout });
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

  const host = new WorkerHost({
    config: opts.config,
    runId: opts.runId,
    ...(opts.clock ? { clock: opts.clock } : {}),
    onSnapshot: (s) => {
      latest = s;
    },
    onConsole: (line) => process.stdout.write(`${line}\n`),
    onFatal: (reason, detail) => {
      fatal = { reason, detail };
      process.stderr.write(`collector ${reason}: ${detail}\n`);
    },
    onInvalid: (e) => process.stderr.write(`ignored an invalid snapshot message: ${e}\n`),
  });

  const render = (): void => {
    const s = latest;
    if (s === null) return;
    if (s.snapshot_seq === rendered && fatal === null) return;
    const t0 = performance.now();
    let vm: ViewModel = viewModel(s);
    if (fatal !== null) {
      vm = {
        ...vm,
        failure: { title: `FAILED: ${fatal.reason}`, body: `${fatal.detail}\n\nRestart the app. The last snapshot is in debug/latest_snapshot.json.` },
      };
    }
    window.render(vm);
    window.addEvents(s.counters.peak_pressure_events, s.promoted_events, s.symbols_active, (sym) => s.per_symbol[sym]?.price_precision ?? 2);
    renderTimes.push(performance.now() - t0);
    rendered = s.snapshot_seq;
    saveLayout();
    const populated = s.symbols_active.length > 0 && Object.values(s.raw_buffers.trades).some((r) => r.length > 0);
    if (opts.uiTest && (opts.uiTest.boot === true || populated) && s.promoted_events.length >= (opts.uiTest.minEvents ?? 0)) {
      populatedRenders++;
      if (populatedRenders >= opts.uiTest.renders) {
        // Let Qt lay out and paint what was just bound before reading it back.
        app.processEvents();
        const dir = opts.uiTest.dir;
        mkdirSync(dir, { recursive: true });
        const views: { name: string; width: number; height: number }[] = [
          { name: 'window', width: 1600, height: 1000 },
          // The smallest supported size: the same content must still lay out (SPEC §9: readable at 1280×800).
          { name: 'window-1280x800', width: 1280, height: 800 },
        ];
        const shots: { name: string; png: string | null; widgets: WindowTexts; layout: Layout }[] = [];
        for (const v of views) {
          window.win.resize(v.width, v.height);
          app.processEvents();
          const png = join(dir, `${v.name}.png`);
          shots.push({ name: v.name, png: window.grabPng(png) ? png : null, widgets: window.readBack(), layout: window.layout() });
        }
        writeFileSync(
          join(dir, 'ui-readback.json'),
          `${JSON.stringify({ snapshot: s, viewModel: vm, shots, scale: process.env.QT_SCALE_FACTOR ?? '1', renderMs: renderTimes }, null, 2)}\n`,
        );
        process.stdout.write(`UI test: read back ${populatedRenders} renders into ${dir}\n`);
        exit(0);
      }
    }
  };
  const renderTimer = setInterval(render, RENDER_EVERY_MS);
  const pollTimer = setInterval(() => window.poll(), POLL_EVERY_MS);
  process.on('SIGINT', () => exit(0));
  process.on('SIGTERM', () => exit(0));
}
