/**
 * `peak-pressure doctor` against the loopback simulator and real folders: every check passing, and
 * each failing the way it fails in the field — a route that acknowledges and stays silent (the
 * simulator's ack_no_data fault), REST 429/418/403 and a spent weight budget, a skewed serverTime,
 * a read-only folder and store (a read-only tmpfs, or chmod when not root), a tiny disk (statfs
 * stub) and a swollen WAL, Qt without its platform plugin. Plus the CLI's output and exit codes,
 * and how failures fold into health reasons and alerts at boot.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, writeFileSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CheckId, type CheckResult, DOCTOR, type DoctorTargets, runDoctor } from '../src/doctor/checks';
import { DISK_LIMITS } from '../src/doctor/disk';
import { bootDoctor, doctorFindings } from '../src/doctor/findings';
import { probeQt, realDoctorIo, type RealIoOptions } from '../src/doctor/io';
import { qtProbeCommand } from '../src/app/doctor-command';
import { CheckIdSchema, DoctorCheckedSchema } from '../src/core/contracts/doctor';
import { startSimulator } from '../src/simulator/server';
import type { SimulatorHandle } from '../src/simulator/types';
import { CLI, ensureCliBuilt, REPO_ROOT } from './fixtures/paths';
import { tempDir } from './store-helpers';

const tmp = tempDir('pp-doctor-');
let sim: SimulatorHandle;

beforeAll(async () => {
  sim = await startSimulator({ port: 0, speed: 1, seed: 7, scenario: 'steady' });
}, 30_000);
afterAll(async () => {
  await sim.stop();
  tmp.cleanup();
});

function targets(over: Partial<DoctorTargets> = {}, dir = join(tmp.dir, 'run')): DoctorTargets {
  return {
    restUrl: sim.restUrl,
    wsUrl: sim.wsUrl,
    storePath: join(dir, 'data', 'peak-pressure.db'),
    debugDir: join(dir, 'debug'),
    capturesDir: join(dir, 'captures'),
    captureBudgetBytes: 16 * 1024 * 1024,
    window: false,
    ...over,
  };
}

async function doctor(over: Partial<DoctorTargets> = {}, io: RealIoOptions = {}): Promise<Map<CheckId, CheckResult>> {
  const results = await runDoctor(targets(over), realDoctorIo(io), Date.now);
  return new Map(results.map((r) => [r.id, r]));
}

function get(m: Map<CheckId, CheckResult>, id: CheckId): CheckResult {
  const r = m.get(id);
  if (r === undefined) throw new Error(`no result for ${id}`);
  return r;
}

describe('every check passes on a healthy set-up', () => {
  it('both routes deliver, REST has headroom, the clock agrees, disks have room, folders are writable', async () => {
    const m = await doctor();
    // Every check of the catalogue, in its order; the Qt check runs only when a window is asked for.
    expect([...m.keys()]).toEqual(CheckIdSchema.options.filter((id) => id !== 'qt'));
    for (const r of m.values()) expect({ id: r.id, ok: r.ok, fix: r.fix }).toEqual({ id: r.id, ok: true, fix: null });
    expect(get(m, 'ws-market').summary).toMatch(
      new RegExp(`^WS /market \\(${sim.wsUrl}/market/stream\\) answered and delivered btcusdt@aggTrade after \\d+ ms$`),
    );
    expect(get(m, 'ws-public').summary).toMatch(/answered and delivered btcusdt@bookTicker after \d+ ms$/);
    expect(get(m, 'rest').summary).toMatch(/^REST answered 200 in \d+ ms; weight used \d+ \/ 2400 this minute \(the collector needs ~161\/min\)$/);
    expect(get(m, 'clock').summary).toMatch(/^local clock 0\.\d{3} s (behind|ahead of) the exchange \(±\d+ ms\)$/);
    // Nothing was created by looking: the folders are judged where they would be made.
    expect(existsSync(join(tmp.dir, 'run'))).toBe(false);
    expect(get(m, 'write-debug').summary).toContain('not there yet');
  }, 30_000);
});

describe('each check fails the way it fails in the field', () => {
  it('a route that acknowledges the SUBSCRIBE and delivers nothing (ack_no_data) fails, the other route passes', async () => {
    const own = await startSimulator({ port: 0, speed: 1, seed: 8, scenario: 'steady' });
    try {
      own.fault({ kind: 'ack_no_data', stream: DOCTOR.MARKET_STREAM, ms: 600_000 });
      const m = await doctor({ wsUrl: own.wsUrl, restUrl: own.restUrl, timeouts: { wsMs: 1_500 } });
      const market = get(m, 'ws-market');
      expect(market.ok).toBe(false);
      expect(market.summary).toBe(`WS /market (${own.wsUrl}/market/stream) acknowledged the SUBSCRIBE but delivered no btcusdt@aggTrade frame within 1.5 s`);
      expect(market.reason).toBe('STREAM_SILENT');
      expect(market.fix).toContain('BINANCE.md §1');
      expect(get(m, 'ws-public').ok).toBe(true);
      own.fault({ kind: 'ack_no_data', stream: DOCTOR.PUBLIC_STREAM, ms: 600_000 });
      const p = get(await doctor({ wsUrl: own.wsUrl, restUrl: own.restUrl, timeouts: { wsMs: 1_500 } }), 'ws-public');
      expect(p).toMatchObject({ ok: false, reason: 'STREAM_SILENT' });
      expect(p.summary).toContain('delivered no btcusdt@bookTicker frame');
    } finally {
      await own.stop();
    }
  }, 30_000);

  it('nothing listening: the routes do not open and REST does not answer', async () => {
    const m = await doctor({ wsUrl: 'ws://127.0.0.1:9', restUrl: 'http://127.0.0.1:9', timeouts: { wsMs: 2_000, restMs: 2_000 } });
    expect(get(m, 'ws-market').summary).toMatch(/^WS \/market \(ws:\/\/127\.0\.0\.1:9\/market\/stream\) did not open: .*ECONNREFUSED/);
    expect(get(m, 'rest')).toMatchObject({ ok: false, reason: null });
    expect(get(m, 'rest').summary).toMatch(/^REST http:\/\/127\.0\.0\.1:9\/fapi\/v1\/time did not answer: .*ECONNREFUSED/);
    expect(get(m, 'clock')).toMatchObject({ ok: false, summary: 'the clock could not be compared: REST did not answer' });
  }, 30_000);

  it('REST 429 with Retry-After, 418, 403 and 503 each name their reason and what to do', async () => {
    const cases = [
      { status: 429, reason: 'REST_RATE_LIMITED_429', text: 'REST answered HTTP 429 (rate limited; Retry-After 7 s)' },
      { status: 418, reason: 'REST_BANNED_418', text: 'REST answered HTTP 418 (this IP is banned for 7 s)' },
      { status: 403, reason: 'REST_FORBIDDEN_403_451', text: 'REST answered HTTP 403 (access refused)' },
      { status: 503, reason: 'REST_SERVER_ERROR', text: 'REST answered HTTP 503 (exchange-side error)' },
    ] as const;
    for (const c of cases) {
      sim.fault({ kind: 'rest_status', path: '/fapi/v1/time', status: c.status, count: 1, retryAfterS: 7 });
      const m = await doctor();
      expect(get(m, 'rest')).toMatchObject({ ok: false, reason: c.reason, summary: c.text });
      expect(get(m, 'clock').ok).toBe(false);
    }
    expect(get(await doctor(), 'rest').ok).toBe(true);
  }, 30_000);

  it('a weight budget spent by someone else on the IP leaves too little headroom', async () => {
    const own = await startSimulator({ port: 0, speed: 1, seed: 9, scenario: 'steady' });
    try {
      // 53 × the all-symbols ticker (weight 40) = 2120 of 2400: the collector paces at 2160.
      for (let i = 0; i < 53; i++) expect((await fetch(`${own.restUrl}/fapi/v1/ticker/24hr`)).status).toBe(200);
      const r = get(await doctor({ restUrl: own.restUrl, wsUrl: own.wsUrl }), 'rest');
      expect(r.ok).toBe(false);
      expect(r.summary).toMatch(
        /^REST answered 200 in \d+ ms; weight used 2121 \/ 2400 this minute: 39 left below the collector's 90 % pacing line, it needs ~161\/min$/,
      );
    } finally {
      await own.stop();
    }
  }, 30_000);

  it('a serverTime 3 s ahead or behind fails the clock (CLOCK_SKEW); 400 ms passes', async () => {
    try {
      sim.fault({ kind: 'server_time_skew', ms: 3_000 });
      const ahead = get(await doctor(), 'clock');
      expect(ahead).toMatchObject({ ok: false, reason: 'CLOCK_SKEW' });
      expect(ahead.summary).toMatch(/^local clock (2\.9|3\.0)\d\d s behind the exchange \(±\d+ ms\); receive-time checks allow 1 s$/);
      sim.fault({ kind: 'server_time_skew', ms: -3_000 });
      expect(get(await doctor(), 'clock').summary).toMatch(/^local clock (2\.9|3\.0)\d\d s ahead of the exchange/);
      sim.fault({ kind: 'server_time_skew', ms: 400 });
      expect(get(await doctor(), 'clock').ok).toBe(true);
    } finally {
      sim.fault({ kind: 'server_time_skew', ms: 0 });
    }
  }, 30_000);

  it('a tiny disk (statfs stub) fails both disk checks with DISK_LOW; a swollen WAL fails with STORE_WAL_GROWING', async () => {
    const dir = join(tmp.dir, 'tiny');
    const t = targets({}, dir);
    mkdirSync(join(dir, 'data'), { recursive: true });
    writeFileSync(t.storePath, 'not really a store, only its size matters here');
    // A sparse file: the WAL's size without using the disk.
    writeFileSync(`${t.storePath}-wal`, '');
    truncateSync(`${t.storePath}-wal`, DISK_LIMITS.WAL_MAX_BYTES + 1);
    const m = await doctor({ storePath: t.storePath, debugDir: t.debugDir, capturesDir: t.capturesDir }, { statfs: () => ({ bavail: 100, bsize: 4096 }) });
    expect(get(m, 'disk-store')).toMatchObject({ ok: false, reason: 'DISK_LOW' });
    expect(get(m, 'disk-store').summary).toMatch(/^400\.0 KiB free beside the store .*peak-pressure\.db \(64\.0 MiB\); it needs 1\.0 GiB$/);
    expect(get(m, 'disk-captures')).toMatchObject({ ok: false, reason: 'DISK_LOW' });
    expect(get(m, 'disk-captures').summary).toMatch(/^400\.0 KiB free for captures in .*captures \(0 bytes of a 16\.0 MiB budget used\); it needs 1\.0 GiB$/);
    expect(get(m, 'store-wal')).toMatchObject({ ok: false, reason: 'STORE_WAL_GROWING' });
    expect(get(m, 'store-wal').summary).toMatch(/-wal is 64\.0 MiB \(checkpoints normally keep it near 4 MiB\)$/);
    // Captures off: their budget is not judged.
    expect(
      get(await doctor({ storePath: t.storePath, captureBudgetBytes: null }, { statfs: () => ({ bavail: 100, bsize: 4096 }) }), 'disk-captures'),
    ).toMatchObject({
      ok: true,
      summary: 'captures are off',
    });
  }, 30_000);

  it('read-only folders and store fail write-debug, write-captures (DIR_NOT_WRITABLE) and write-store (STORE_READ_ONLY)', async () => {
    const dir = join(tmp.dir, 'ro');
    mkdirSync(join(dir, 'data'), { recursive: true });
    mkdirSync(join(dir, 'debug'));
    mkdirSync(join(dir, 'captures'));
    writeFileSync(join(dir, 'data', 'peak-pressure.db'), '');
    const root = process.getuid?.() === 0;
    if (root) {
      // Root ignores file modes: a read-only tmpfs holds the same tree.
      const mnt = join(tmp.dir, 'ro-mnt');
      mkdirSync(mnt);
      if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]).status !== 0) {
        console.warn('[skip] read-only folder test: running as root and cannot mount a tmpfs here');
        return;
      }
      for (const d of ['data', 'debug', 'captures']) mkdirSync(join(mnt, d));
      writeFileSync(join(mnt, 'data', 'peak-pressure.db'), '');
      expect(spawnSync('mount', ['-o', 'remount,ro', mnt]).status).toBe(0);
      const undo = (): void => void spawnSync('umount', ['-l', mnt]);
      try {
        check(await doctor(targets({}, mnt)));
      } finally {
        undo();
      }
      return;
    } else {
      for (const d of ['data', 'debug', 'captures']) chmodSync(join(dir, d), 0o555);
      chmodSync(join(dir, 'data', 'peak-pressure.db'), 0o444);
      const undo = (): void => {
        for (const d of ['data', 'debug', 'captures']) chmodSync(join(dir, d), 0o755);
      };
      try {
        check(await doctor(targets({}, dir)));
      } finally {
        undo();
      }
    }

    function check(m: Map<CheckId, CheckResult>): void {
      for (const id of ['write-debug', 'write-captures'] as const) {
        expect(get(m, id)).toMatchObject({ ok: false, reason: 'DIR_NOT_WRITABLE' });
        expect(get(m, id).summary).toMatch(/cannot be written: (read-only file system \(EROFS\)|permission denied \(EACCES\))$/);
      }
      expect(get(m, 'write-store')).toMatchObject({ ok: false, reason: 'STORE_READ_ONLY' });
      expect(get(m, 'write-store').summary).toMatch(
        /^the store .*peak-pressure\.db cannot be written: .*peak-pressure\.db: (read-only file system \(EROFS\)|permission denied \(EACCES\))$/,
      );
    }
  }, 30_000);
});

describe('the Qt platform plugin, in a child process', () => {
  const haveQt = existsSync(join(REPO_ROOT, 'node_modules', '@nodegui', 'nodegui', 'build', 'Release', 'nodegui_core.node'));
  it.skipIf(!haveQt)(
    'loads with a usable plugin, and fails with Qt’s own words for a missing one or no display',
    async () => {
      ensureCliBuilt();
      const cmd = (env: NodeJS.ProcessEnv) => qtProbeCommand(join(REPO_ROOT, 'dist'), env);
      const base = { ...process.env };
      delete base.DISPLAY;
      delete base.WAYLAND_DISPLAY;
      delete base.QT_QPA_PLATFORM;
      const good = await probeQt(cmd({ ...base, QT_QPA_PLATFORM: 'offscreen' }), DOCTOR.QT_TIMEOUT_MS);
      expect(good).toEqual({ ok: true, platform: 'offscreen', noDisplay: false, detail: '' });
      const broken = await probeQt(cmd({ ...base, QT_QPA_PLATFORM: 'nosuchplugin' }), DOCTOR.QT_TIMEOUT_MS);
      expect(broken.ok).toBe(false);
      expect(broken.detail).toMatch(/^qt\.qpa\.plugin: Could not find the Qt platform plugin "nosuchplugin"/);
      const none = await probeQt(cmd(base), DOCTOR.QT_TIMEOUT_MS);
      expect(none).toMatchObject({ ok: false, noDisplay: true });
      expect(none.detail).toBe('No display: Qt cannot open a window here. (exit code 2)');
      const m = await doctor({ window: true }, { qt: cmd({ ...base, QT_QPA_PLATFORM: 'nosuchplugin' }) });
      expect(get(m, 'qt')).toMatchObject({ ok: false, reason: null });
      expect(get(m, 'qt').fix).toContain('QT_QPA_PLATFORM');
    },
    60_000,
  );
});

describe('at boot: failures fold into health reasons and alerts', () => {
  it('lasting reasons for what only the doctor sees, an alert per failed check with a reason, a console line per failure', async () => {
    sim.fault({ kind: 'server_time_skew', ms: 5_000 });
    let boot: Awaited<ReturnType<typeof bootDoctor>>;
    try {
      // At boot the window (if any) is already up: no Qt check even when asked for.
      boot = await bootDoctor(
        { ...targets(), wsUrl: 'ws://127.0.0.1:9', window: true, timeouts: { wsMs: 2_000 } },
        realDoctorIo({ statfs: () => ({ bavail: 10, bsize: 4096 }) }),
        Date.now,
      );
    } finally {
      sim.fault({ kind: 'server_time_skew', ms: 0 });
    }
    const { results, findings: f } = boot;
    expect(results.map((r) => r.id)).not.toContain('qt');
    // What the DOCTOR_CHECKED audit record would carry is the published contract.
    expect(DoctorCheckedSchema.parse({ when: 'boot', results })).toEqual({ when: 'boot', results });
    expect(f.lasting.map((n) => n.reason)).toEqual(['CLOCK_SKEW', 'DISK_LOW']);
    // Store and captures both low: one reason, both details.
    expect(f.lasting[1]?.detail).toMatch(/beside the store .* \| .*free for captures/);
    expect(f.alerts.map((a) => a.reason)).toEqual(['STREAM_SILENT', 'STREAM_SILENT', 'CLOCK_SKEW', 'DISK_LOW', 'DISK_LOW']);
    expect(f.alerts.every((a) => a.severity === 'WARN')).toBe(true);
    expect(f.lines).toHaveLength(results.filter((r) => !r.ok).length);
    expect(f.lines[0]).toMatch(/^doctor ws-market FAILED: WS \/market .* did not open: .*; fix: /);
    expect(doctorFindings(results.filter((r) => r.ok))).toEqual({ lasting: [], alerts: [], lines: [] });
  }, 30_000);
});

describe('peak-pressure doctor (CLI)', () => {
  function run(args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [CLI, 'doctor', ...args], { cwd, env: { ...process.env, PEAK_PRESSURE_REST_URL: '', PEAK_PRESSURE_WS_URL: '' } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  }

  it('prints one line per check and exits 0 when all pass, 1 when one fails, 2 on a bad flag', async () => {
    ensureCliBuilt();
    const cwd = join(tmp.dir, 'cli');
    mkdirSync(cwd);
    const ok = await run(['--rest-url', sim.restUrl, '--ws-url', sim.wsUrl], cwd);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    const lines = ok.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`peak-pressure doctor: REST ${sim.restUrl}  WS ${sim.wsUrl}  store ${join(cwd, 'data', 'peak-pressure.db')}`);
    expect(lines.slice(1, -1).map((l) => l.slice(0, 4))).toEqual(Array(10).fill('PASS'));
    expect(lines.at(-1)).toBe('doctor: all 10 checks passed');

    sim.fault({ kind: 'rest_status', path: '/fapi/v1/time', status: 429, count: 1, retryAfterS: 3 });
    const bad = await run(['--rest-url', sim.restUrl, '--ws-url', sim.wsUrl, '--no-capture'], cwd);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('FAIL  rest            REST answered HTTP 429 (rate limited; Retry-After 3 s)\n');
    expect(bad.stdout).toMatch(/\n {22}fix: the IP's request budget is spent/);
    expect(bad.stdout).toContain('PASS  disk-captures   captures are off');
    expect(bad.stdout.trimEnd().split('\n').at(-1)).toBe('doctor: 2 of 10 checks failed');

    const usage = await run(['--bogus'], cwd);
    expect(usage.code).toBe(2);
    expect(usage.stderr.split('\n')[0]).toBe("peak-pressure doctor: Unknown option '--bogus'");
    expect(usage.stderr).toContain('usage: peak-pressure doctor [options]');
  }, 60_000);
});
