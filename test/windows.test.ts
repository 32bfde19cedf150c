/**
 * The product's Windows-only behaviour, with Windows simulated on Linux. What Node itself does on
 * Windows (paths, rename over a file, sockets, signals from a console) runs for real under wine
 * in scripts/windows-lane.sh; this file covers what wine cannot show: a reader holding the
 * snapshot open (a sharing violation), qode being installed, and the launcher's signal handling.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join, win32 } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CaptureWriter } from '../src/capture/writer';
import { configFromEnv, loadConfig } from '../src/collector/config';
import { RestClient } from '../src/collector/rest';
import { writeFileAtomic } from '../src/collector/snapshot-file';
import { SnapshotSchema } from '../src/core/contracts/snapshot';
import { newRunId } from '../src/app/live-options';
import { runsUnderQode, STOP_SIGNALS } from '../src/app/platform';
import { startSimulator } from '../src/simulator/server';
import type { SimulatorHandle } from '../src/simulator/types';
import { CLI, ensureCliBuilt } from './fixtures/paths';
import { wallClock } from '../src/clock/clock';

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  return { ...real, rename: vi.fn(real.rename), open: vi.fn(real.open) };
});

/** What Windows' rename reports while another program holds the target open. */
function sharingViolation(code: 'EPERM' | 'EBUSY' | 'EACCES'): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: operation not permitted, rename`), { code });
}

/** A file name Windows accepts: no reserved character, no reserved device name, no trailing dot or space. */
function validOnWindows(name: string): boolean {
  if (/[<>:"/\\|?*]/.test(name) || [...name].some((c) => c.charCodeAt(0) < 32) || /[. ]$/.test(name)) return false;
  return !/^(CON|PRN|AUX|NUL|COM[1-9]|LPT[1-9])(\.|$)/i.test(name);
}

describe('snapshot file: atomic replace with the retry Windows needs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pp-win-snap-'));
  const target = join(dir, 'latest_snapshot.json');

  it('retries a rename refused by a reader holding the file (EPERM, then EBUSY) and then replaces it', async () => {
    writeFileSync(target, 'old\n');
    vi.mocked(rename).mockClear().mockRejectedValueOnce(sharingViolation('EPERM')).mockRejectedValueOnce(sharingViolation('EBUSY'));
    await writeFileAtomic(target, 'new\n', { clock: wallClock, retryDelayMs: 1 });
    expect(vi.mocked(rename)).toHaveBeenCalledTimes(3);
    expect(readFileSync(target, 'utf8')).toBe('new\n');
    expect(readdirSync(dir)).toEqual(['latest_snapshot.json']);
  });

  it('gives up after its retries with an error naming the file, keeps the old one and leaves no temp file', async () => {
    writeFileSync(target, 'old\n');
    const refused = vi.mocked(rename).mockClear();
    for (let i = 0; i < 3; i++) refused.mockRejectedValueOnce(sharingViolation('EACCES'));
    await expect(writeFileAtomic(target, 'new\n', { clock: wallClock, retries: 2, retryDelayMs: 1 })).rejects.toThrow(
      `could not replace ${target} (EACCES) after 3 tries; is another program holding it open?`,
    );
    expect(vi.mocked(rename)).toHaveBeenCalledTimes(3);
    expect(readFileSync(target, 'utf8')).toBe('old\n');
    expect(readdirSync(dir)).toEqual(['latest_snapshot.json']);
  });

  it('does not retry an error a sharing violation never gives (EXDEV)', async () => {
    vi.mocked(rename)
      .mockClear()
      .mockRejectedValueOnce(Object.assign(new Error('EXDEV: cross-device link not permitted'), { code: 'EXDEV' }));
    await expect(writeFileAtomic(target, 'x\n', { clock: wallClock, retryDelayMs: 1 })).rejects.toThrow('(EXDEV) after 1 tries');
    expect(vi.mocked(rename)).toHaveBeenCalledTimes(1);
    expect(readdirSync(dir)).toEqual(['latest_snapshot.json']);
  });

  it('names its temp file validly for Windows, beside the target (same volume, so the rename is atomic)', async () => {
    vi.mocked(open).mockClear();
    await writeFileAtomic(target, 'y\n', { clock: wallClock });
    const tmp = String(vi.mocked(open).mock.calls[0]?.[0]);
    expect(join(tmp, '..')).toBe(dir);
    expect(validOnWindows(basename(tmp))).toBe(true);
  });
});

describe('file names the collector writes are valid on Windows', () => {
  it('capture parts (rotated) and run ids', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pp-win-cap-'));
    const runId = newRunId();
    const w = new CaptureWriter({
      dir,
      runId,
      clock: wallClock,
      header: { run_id: runId, symbols: ['BTCUSDT'] },
      maxFileBytes: 2_000,
      maxTotalBytes: 1 << 30,
      flushEveryMs: 10,
    });
    // Incompressible-ish payloads, so the parts fill up and rotate.
    for (let i = 0; i < 12_000; i++) {
      const noise = ((i * 2654435761) >>> 0).toString(36) + ((i * 40503) >>> 0).toString(16);
      w.write({ recv_ms: 1_767_700_000_000 + i, source: 'ws:/market/stream', text: `{"a":${i},"x":"${noise}${noise}"}` });
      // Let gzip drain so the writer sees the compressed size (as test/capture-writer.test.ts does).
      if (i % 1000 === 999) await new Promise((r) => setTimeout(r, 30));
    }
    await w.close();
    const names = readdirSync(dir);
    expect(names.length).toBeGreaterThan(1);
    for (const n of names) {
      expect(validOnWindows(n), n).toBe(true);
      expect(win32.basename(win32.join('C:\\captures', n))).toBe(n);
    }
    expect(validOnWindows(runId)).toBe(true);
  });
});

describe('launcher (scripts/start.cjs) on Windows', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a CommonJS launcher script
  const start = require('../scripts/start.cjs') as {
    pickRuntime: (load: () => { qodePath?: string }, exists: (p: string) => boolean, execPath: string) => string;
    signalPlan: (platform: string) => { forward: string[]; wait: string[] };
  };
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a CommonJS launcher script
  const runtimeEnv = require('../scripts/runtime-env.cjs') as { withRuntimeEnv: (env: NodeJS.ProcessEnv, platform?: string) => NodeJS.ProcessEnv };
  const qodeExe = 'C:\\pp\\node_modules\\@nodegui\\qode\\binaries\\qode.exe';
  const nodeExe = 'C:\\Program Files\\nodejs\\node.exe';

  it('runs the app under qode.exe when NodeGui downloaded it, else under this Node', () => {
    expect(
      start.pickRuntime(
        () => ({ qodePath: qodeExe }),
        (p) => p === qodeExe,
        nodeExe,
      ),
    ).toBe(qodeExe);
    expect(
      start.pickRuntime(
        () => ({ qodePath: qodeExe }),
        () => false,
        nodeExe,
      ),
    ).toBe(nodeExe);
    const missing = (): never => {
      throw Object.assign(new Error("Cannot find module '@nodegui/qode'"), { code: 'MODULE_NOT_FOUND' });
    };
    expect(start.pickRuntime(missing, () => true, nodeExe)).toBe(nodeExe);
  });

  it('does not kill the app on Ctrl+C on Windows (child.kill is TerminateProcess there; the app gets the console event itself)', () => {
    expect(start.signalPlan('win32')).toEqual({ forward: [], wait: ['SIGINT', 'SIGBREAK', 'SIGHUP'] });
    expect(start.signalPlan('linux')).toEqual({ forward: ['SIGINT', 'SIGTERM'], wait: [] });
  });

  it('sets glibc malloc tuning and Qt without GLX on Linux only, the main isolate semi-space cap everywhere; a value the user set wins', () => {
    const semi = '--max-semi-space-size=1';
    expect(runtimeEnv.withRuntimeEnv({ A: '1' }, 'win32')).toEqual({ A: '1', NODE_OPTIONS: semi });
    expect(runtimeEnv.withRuntimeEnv({ A: '1' }, 'linux')).toEqual({
      A: '1',
      MALLOC_MMAP_THRESHOLD_: '65536',
      MALLOC_ARENA_MAX: '2',
      QT_XCB_GL_INTEGRATION: 'none',
      NODE_OPTIONS: semi,
    });
    expect(runtimeEnv.withRuntimeEnv({ QT_XCB_GL_INTEGRATION: 'glx' }, 'linux').QT_XCB_GL_INTEGRATION).toBe('glx');
    expect(runtimeEnv.withRuntimeEnv({ NODE_OPTIONS: '--trace-warnings' }, 'win32').NODE_OPTIONS).toBe(`--trace-warnings ${semi}`);
    expect(runtimeEnv.withRuntimeEnv({ NODE_OPTIONS: '--max-semi-space-size=4' }, 'linux').NODE_OPTIONS).toBe('--max-semi-space-size=4');
  });

  it('detects qode by process.versions.qode (then qode runs the Qt event loop, not our pump)', () => {
    expect(runsUnderQode({ ...process.versions, qode: '24.12.0' })).toBe(true);
    expect(runsUnderQode(process.versions)).toBe(false);
  });
});

describe('tcpKeepAlive: the wine-only workaround reaches undici', () => {
  let server: Server;
  let url = '';
  beforeAll(async () => {
    server = createServer((_req, res) => res.end('{}'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('PEAK_PRESSURE_TCP_KEEPALIVE=0 turns it off; it is on by default', () => {
    expect(loadConfig({ env: {} }).tcpKeepAlive).toBe(true);
    expect(configFromEnv({ PEAK_PRESSURE_TCP_KEEPALIVE: '0' })).toEqual({ tcpKeepAlive: false });
    expect(loadConfig({ env: { PEAK_PRESSURE_TCP_KEEPALIVE: '0' } }).tcpKeepAlive).toBe(false);
  });

  it.each([
    [true, [[true, 60_000]]],
    [false, []],
  ])('tcpKeepAlive %s: setKeepAlive calls on the REST socket %j', async (tcpKeepAlive, calls) => {
    const spy = vi.spyOn(Socket.prototype, 'setKeepAlive');
    const rest = new RestClient({ baseUrl: url, clock: wallClock, tcpKeepAlive });
    try {
      const r = await rest.get('/fapi/v1/time', { timeoutMs: 5_000 });
      expect(r.status).toBe(200);
      expect(spy.mock.calls).toEqual(calls);
    } finally {
      spy.mockRestore();
      await rest.close();
    }
  });
});

describe('live --headless stops cleanly on every stop request a Windows console or script can make', () => {
  let sim: SimulatorHandle;
  beforeAll(async () => {
    ensureCliBuilt();
    sim = await startSimulator({ port: 0, speed: 1, seed: 7, scenario: 'steady' });
  }, 180_000);
  afterAll(() => sim.stop());

  function startLive(dir: string, extra: string[]): { child: ChildProcess; out: () => string; exit: Promise<number | null> } {
    let out = '';
    const child = spawn(
      process.execPath,
      [CLI, 'live', '--headless', '--rest-url', sim.restUrl, '--ws-url', sim.wsUrl, '--debug-dir', join(dir, 'debug'), '--no-capture', ...extra],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr?.on('data', (b: Buffer) => (out += b.toString()));
    return { child, out: () => out, exit: new Promise((r) => child.on('exit', (code) => r(code))) };
  }

  async function until(what: string, pred: () => boolean, timeoutMs = 60_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!pred()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  function finalSnapshot(dir: string): ReturnType<typeof SnapshotSchema.parse> {
    return SnapshotSchema.parse(JSON.parse(readFileSync(join(dir, 'debug', 'latest_snapshot.json'), 'utf8')));
  }

  it('--stop-file: a stale one is deleted at start; a new one stops the run through its shutdown path and is consumed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pp-win-stop-'));
    const stopFile = join(dir, 'stop.request');
    writeFileSync(stopFile, '');
    const live = startLive(dir, ['--stop-file', stopFile]);
    await until('the market stream', () => live.out().includes('market stream connected'));
    expect(live.out()).toContain(`deleted a stop file left from an earlier run: ${stopFile}`);
    expect(live.child.exitCode).toBeNull();
    writeFileSync(stopFile, '');
    expect(await live.exit).toBe(0);
    expect(live.out()).toContain(`stop file ${stopFile}: stopping (flushing capture and snapshot)`);
    expect(live.out()).toContain('stage SHUTDOWN');
    expect(existsSync(stopFile)).toBe(false);
    expect(finalSnapshot(dir).stage).toBe('SHUTDOWN');
  }, 90_000);

  it.each(STOP_SIGNALS.filter((s) => s !== 'SIGBREAK'))(
    '%s stops it through the same shutdown path (SIGHUP: a Windows console window was closed)',
    async (sig) => {
      const dir = mkdtempSync(join(tmpdir(), 'pp-win-sig-'));
      const live = startLive(dir, []);
      await until('the market stream', () => live.out().includes('market stream connected'));
      live.child.kill(sig);
      expect(await live.exit).toBe(0);
      expect(live.out()).toContain(`${sig}: stopping (flushing capture and snapshot)`);
      expect(finalSnapshot(dir).stage).toBe('SHUTDOWN');
    },
    90_000,
  );
});
