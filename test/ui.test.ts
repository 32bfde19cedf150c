/**
 * The real app (dist/main.js, NodeGui, offscreen Qt platform) against the loopback simulator:
 * after a few commits it reads its widgets' texts back from Qt and saves PNGs of the window.
 * The test checks that what Qt shows is exactly what the view-model makes of the snapshot that
 * was rendered, and that the snapshot itself is valid.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SnapshotSchema } from '../src/core/contracts/snapshot';
import { startSimulator } from '../src/simulator/server';
import { viewModel } from '../src/widgets/view-model';
import type { WindowTexts } from '../src/widgets/window';
import { REPO_ROOT } from './fixtures/paths';

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

describe.skipIf(!haveQt)('native window (offscreen Qt)', () => {
  it('shows exactly what the view-model makes of the rendered snapshot, and saves PNGs', async () => {
    expect(existsSync(MAIN)).toBe(true);
    const sim = await startSimulator({ port: 0, seed: 9, scenario: 'steady' });
    const dir = mkdtempSync(join(tmpdir(), 'pp-ui-'));
    rmSync(OUT, { recursive: true, force: true });
    let stdout = '';
    let stderr = '';
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(
        process.execPath,
        [MAIN, '--rest-url', sim.restUrl, '--ws-url', sim.wsUrl, '--debug-dir', join(dir, 'debug'), '--no-capture', '--ui-test', OUT, '--ui-test-renders', '4'],
        { env: { ...process.env, QT_QPA_PLATFORM: 'offscreen', TZ: 'UTC' }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const t = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('exit', (c) => {
        clearTimeout(t);
        resolve(c);
      });
    });
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
  }, 90_000);
});
