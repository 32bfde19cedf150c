/**
 * The real app (dist/main.js, NodeGui, offscreen Qt platform) against the loopback simulator:
 * after a few commits it reads its widgets' texts back from Qt and saves PNGs of the window.
 * The test checks that what Qt shows is exactly what the view-model makes of the snapshot that
 * was rendered, and that the snapshot itself is valid. An earlier run's real events, put in the
 * store beforehand, come back as the window's history section (issue 10 item 3); the simulator's
 * exchange clock is 3 s ahead, so the collector's boot doctor alerts CLOCK_SKEW and the window
 * shows it as a toast (item 5).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SnapshotSchema } from '../src/core/contracts/snapshot';
import { startSimulator } from '../src/simulator/server';
import { HISTORY_LIMIT, historyOf } from '../src/store/history';
import { EventStore } from '../src/store/store';
import { historyView } from '../src/widgets/history-view';
import type { ToastView } from '../src/widgets/alerts-view';
import { COLORS, viewModel } from '../src/widgets/view-model';
import type { WindowTexts } from '../src/widgets/window';
import { REPO_ROOT } from './fixtures/paths';
import { fixtureEvents, runStart } from './store-helpers';

const ADDON = join(REPO_ROOT, 'node_modules', '@nodegui', 'nodegui', 'build', 'Release', 'nodegui_core.node');
const MAIN = join(REPO_ROOT, 'dist', 'main.js');
const OUT = join(REPO_ROOT, 'debug', 'ui-test');

function pngSize(path: string): { width: number; height: number } {
  const b = readFileSync(path);
  expect(b.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

const haveQt = existsSync(ADDON);
if (!haveQt) console.warn(`[skip] UI test: the NodeGui addon is not built (${ADDON}); run: bash scripts/build-qt-addon.sh`);

function runApp(args: string[], timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    const child = spawn(process.execPath, [MAIN, ...args], {
      env: { ...process.env, QT_QPA_PLATFORM: 'offscreen', TZ: 'UTC' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

describe.skipIf(!haveQt)('native window (offscreen Qt)', () => {
  it('shows exactly what the view-model makes of the rendered snapshot, and saves PNGs', async () => {
    expect(existsSync(MAIN)).toBe(true);
    const sim = await startSimulator({ port: 0, seed: 9, scenario: 'steady' });
    sim.fault({ kind: 'server_time_skew', ms: 3_000 });
    const dir = mkdtempSync(join(tmpdir(), 'pp-ui-'));
    rmSync(OUT, { recursive: true, force: true });
    // An earlier run with real events (the fixture replay's), ended cleanly, in the store the app opens.
    process.env.TZ = 'UTC';
    const db = join(dir, 'store.db');
    const earlier = EventStore.open({ path: db, isRunAlive: () => false }, Date.UTC(2026, 0, 6));
    earlier.startRun(runStart('earlier1', Date.UTC(2026, 0, 6)), Date.UTC(2026, 0, 6));
    earlier.persist({ events: await fixtureEvents() }, Date.UTC(2026, 0, 6, 0, 1));
    const expectedHistory = historyView(historyOf(earlier.history('none', HISTORY_LIMIT)))?.text;
    earlier.close(Date.UTC(2026, 0, 6, 0, 2));
    const { code, stdout, stderr } = await runApp([
      '--rest-url',
      sim.restUrl,
      '--ws-url',
      sim.wsUrl,
      '--debug-dir',
      join(dir, 'debug'),
      '--no-capture',
      '--db',
      db,
      '--ui-test',
      OUT,
      '--ui-test-renders',
      '4',
    ]);
    await sim.stop();
    expect(code, `app exited with ${code}\nstdout:\n${stdout}\nstderr:\n${stderr}`).toBe(0);
    expect(stdout).toContain('[NATIVE APP] Window initialized. Refresh: 500ms');

    const rb = JSON.parse(readFileSync(join(OUT, 'ui-readback.json'), 'utf8')) as {
      snapshot: unknown;
      widgets: WindowTexts;
      widgetsSmall: WindowTexts;
      png: string | null;
      pngSmall: string | null;
      renderMs: number[];
      history: string | null;
      toastsShown: ToastView[];
    };
    const parsed = SnapshotSchema.safeParse(rb.snapshot);
    expect(parsed.success).toBe(true);
    if (!parsed.success) return;
    const snap = parsed.data;
    process.env.TZ = 'UTC';
    const vm = viewModel(snap);
    const w = rb.widgets;
    for (const key of Object.keys(vm.status) as (keyof typeof vm.status)[]) expect(w.status[key]).toBe(vm.status[key].text);
    expect(w.health).toBe(vm.health);
    expect(w.events).toBe(vm.events);
    expect(w.trades).toEqual(vm.trades.map((r) => [r.time, r.symbol, r.price, r.qty, r.side]));
    expect(w.liquidations).toEqual(vm.liquidations.map((r) => [r.time, r.symbol, r.price, r.qty, r.side]));
    expect(w.failure).toBeNull();
    // The rendered snapshot is a live one with data in it.
    expect(snap.symbols_active).toEqual([...sim.symbols]);
    expect(w.trades.length).toBe(20);
    expect(w.status.mode).toBe('Mode: LIVE_PEAK_PRESSURE');
    expect(w.status.symbols).toBe('Symbols: BTCUSDT, ETHUSDT, SOLUSDT, XRPUSDT, DOGEUSDT (+5 more)');
    expect(w.events).toContain('=== NO PEAK PRESSURE EVENTS DETECTED ===');
    // Window sizes and the PNGs under debug/.
    expect(w.size).toEqual({ width: 1600, height: 1000 });
    expect(rb.png).toBe(join(OUT, 'window.png'));
    expect(pngSize(join(OUT, 'window.png'))).toEqual({ width: 1600, height: 1000 });
    expect(rb.widgetsSmall.size).toEqual({ width: 1280, height: 800 });
    expect(rb.widgetsSmall.trades).toEqual(w.trades);
    expect(pngSize(join(OUT, 'window-1280x800.png'))).toEqual({ width: 1280, height: 800 });
    expect(rb.renderMs.length).toBeGreaterThanOrEqual(4);
    // The earlier run's events, as the history section shows them (TZ=UTC on both sides).
    expect(expectedHistory).toContain('--- Run earlier1 — LIVE_PEAK_PRESSURE — started 2026-01-06');
    expect(rb.history).toBe(expectedHistory);
    // The boot doctor's alert reached the window as a toast (the collector's console says the same).
    const skew = rb.toastsShown.find((t) => t.title.startsWith('WARN CLOCK_SKEW'));
    expect(skew, JSON.stringify(rb.toastsShown)).toBeDefined();
    expect(skew?.body).toContain('doctor clock:');
    expect(skew?.color).toBe(COLORS.orange);
    expect(stdout).toContain('!! ALERT WARN CLOCK_SKEW');
  }, 90_000);

  it('with the exchange unreachable, opens anyway and shows DEGRADED with the reason while retrying', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pp-ui-down-'));
    const out = join(OUT, 'unreachable');
    // Port 9 on loopback: nothing listens, every request is refused at once.
    const { code, stdout, stderr } = await runApp([
      '--rest-url',
      'http://127.0.0.1:9',
      '--ws-url',
      'ws://127.0.0.1:9',
      '--debug-dir',
      join(dir, 'debug'),
      '--no-capture',
      '--db',
      join(dir, 'store.db'),
      '--ui-test',
      out,
      '--ui-test-renders',
      '5',
      '--ui-test-boot',
    ]);
    expect(code, `stdout:\n${stdout}\nstderr:\n${stderr}`).toBe(0);
    const rb = JSON.parse(readFileSync(join(out, 'ui-readback.json'), 'utf8')) as { snapshot: unknown; widgets: WindowTexts };
    const parsed = SnapshotSchema.safeParse(rb.snapshot);
    expect(parsed.success).toBe(true);
    if (!parsed.success) return;
    expect(parsed.data.health_state).toBe('DEGRADED');
    expect(parsed.data.health_reasons).toContain('SYMBOLS_UNAVAILABLE');
    expect(rb.widgets.status.health).toBe('Health: DEGRADED');
    expect(rb.widgets.status.mode).toBe('Mode: LOADING...');
    expect(rb.widgets.health).toContain('Health: DEGRADED (SYMBOLS_UNAVAILABLE)');
    expect(rb.widgets.health).toMatch(/exchangeInfo failed \(attempt \d+\).*retrying in \d+ s/);
    expect(stdout).toContain('cannot reach the exchange');
  }, 90_000);
});
