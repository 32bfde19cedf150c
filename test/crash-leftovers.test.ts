/**
 * Crash leftovers (issue 9 item 6) and directories that cannot be created (item 4): a killed run's
 * snapshot temps are removed at start (only ours, only when the writer is gone), its last snapshot
 * is marked as from a run that ended uncleanly, and mkdir -p terminates with a clear error where
 * Node's recursive mkdir spins for ever (procfs).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { markUncleanEnd, removeStaleSnapshotTemps, writeFileAtomic } from '../src/collector/snapshot-file';
import { SnapshotSchema } from '../src/core/contracts/snapshot';
import { ensureDir, ensureDirSync } from '../src/files/dirs';
import { PathError } from '../src/files/errors';
import { parseTempName, pidAlive, removeStaleTemps, tempPathFor } from '../src/files/temp-files';
import { runReplay } from '../src/replay/replay';
import { FIXTURE_BTC } from './fixtures/paths';
import { wallClock } from '../src/clock/clock';
import { ManualClock } from '../src/clock/manual';
import { AuditEnvelopeSchema } from '../src/core/contracts/audit';
import { startRig } from './collector-harness';

const tmp = mkdtempSync(join(tmpdir(), 'pp-leftovers-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const freshDir = (): string => {
  const d = join(tmp, `d${++n}`);
  mkdirSync(d);
  return d;
};

describe('directories', () => {
  it('ensureDirSync / ensureDir create every missing level and accept an existing directory', async () => {
    const d = freshDir();
    ensureDirSync(join(d, 'a', 'b', 'c'));
    expect(existsSync(join(d, 'a', 'b', 'c'))).toBe(true);
    ensureDirSync(join(d, 'a', 'b', 'c'));
    await ensureDir(join(d, 'x', 'y'));
    await ensureDir(join(d, 'x', 'y'));
    expect(existsSync(join(d, 'x', 'y'))).toBe(true);
  });

  it('a regular file in the way is named in the error', async () => {
    const d = freshDir();
    writeFileSync(join(d, 'file'), '');
    const target = join(d, 'file', 'sub');
    expect(() => ensureDirSync(target)).toThrow(PathError);
    expect(() => ensureDirSync(target)).toThrow(`cannot create directory ${target}: ${join(d, 'file')} is not a directory`);
    await expect(ensureDir(target)).rejects.toThrow(`${join(d, 'file')} is not a directory`);
  });

  it.runIf(existsSync('/proc/self'))(
    'procfs refuses every mkdir with ENOENT: ends at once with the cause (Node recursive mkdir spins for ever)',
    async () => {
      expect(() => ensureDirSync('/proc/x/y')).toThrow('cannot create directory /proc/x/y (at /proc/x): no such file or directory (ENOENT)');
      await expect(ensureDir('/proc/x/y')).rejects.toThrow('cannot create directory /proc/x/y (at /proc/x): no such file or directory (ENOENT)');
    },
    5_000,
  );
});

describe('stale temp files', () => {
  it('parses only our temp names', () => {
    expect(parseTempName('latest_snapshot.json.123.1723161255088.tmp', 'latest_snapshot.json')).toEqual({ pid: 123, ms: 1723161255088 });
    expect(parseTempName('latest_snapshot.json.tmp', 'latest_snapshot.json')).toBeNull();
    expect(parseTempName('latest_snapshot.json.abc.1.tmp', 'latest_snapshot.json')).toBeNull();
    expect(parseTempName('other.json.1.2.tmp', 'latest_snapshot.json')).toBeNull();
    expect(parseTempName('latest_snapshot.json.1.2.tmp.bak', 'latest_snapshot.json')).toBeNull();
    expect(parseTempName('replay_dead_letters.jsonl.5.6.tmp.2', 'replay_dead_letters.jsonl')).toEqual({ pid: 5, ms: 6 });
    expect(tempPathFor('/d/f.json', 42, 7)).toBe('/d/f.json.42.7.tmp');
  });

  it('removes temps of dead writers, of this pid from before this process started, and very old ones; keeps the rest', () => {
    const d = freshDir();
    const target = join(d, 'latest_snapshot.json');
    const now = 1_800_000_000_000;
    const names = {
      dead: `latest_snapshot.json.111.${now - 1000}.tmp`,
      alive: `latest_snapshot.json.222.${now - 1000}.tmp`,
      aliveButAncient: `latest_snapshot.json.222.${now - 25 * 3600 * 1000}.tmp`,
      selfBefore: `latest_snapshot.json.333.${now - 60_000}.tmp`,
      selfAfter: `latest_snapshot.json.333.${now - 10}.tmp`,
      notOurs: 'latest_snapshot.json.bak',
      otherTarget: `audit.jsonl.111.${now}.tmp`,
      target: 'latest_snapshot.json',
    };
    for (const f of Object.values(names)) writeFileSync(join(d, f), 'x');
    const r = removeStaleTemps(target, { nowMs: now, isAlive: (pid) => pid === 222, selfPid: 333, selfStartMs: now - 30_000 });
    expect(r.removed.map((p) => p.slice(d.length + 1)).sort()).toEqual([names.aliveButAncient, names.dead, names.selfBefore].sort());
    expect(r.failed).toEqual([]);
    expect(readdirSync(d).sort()).toEqual([names.alive, names.selfAfter, names.notOurs, names.otherTarget, names.target].sort());
    expect(removeStaleTemps(join(d, 'missing-dir', 'x.json')).removed).toEqual([]);
  });

  it('a SIGKILLed writer: its temp is removed, a live writer’s temp is kept (real processes)', async () => {
    const d = freshDir();
    const target = join(d, 'latest_snapshot.json');
    // Each child writes its own temp the way writeFileAtomic names it, then waits to be killed.
    const child = (): Promise<{ pid: number; kill: () => Promise<void> }> =>
      new Promise((resolve, reject) => {
        const script = `require('fs').writeFileSync(${JSON.stringify(target)} + '.' + process.pid + '.' + Date.now() + '.tmp', '{'); console.log('ready'); setInterval(() => {}, 1000);`;
        const p = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
        p.once('error', reject);
        p.stdout.once('data', () =>
          resolve({
            pid: p.pid as number,
            kill: () =>
              new Promise<void>((r) => {
                p.once('exit', () => r());
                p.kill('SIGKILL');
              }),
          }),
        );
      });
    const killed = await child();
    const alive = await child();
    try {
      await killed.kill();
      expect(pidAlive(killed.pid)).toBe(false);
      expect(pidAlive(alive.pid)).toBe(true);
      expect(readdirSync(d)).toHaveLength(2);
      const r = removeStaleSnapshotTemps(target);
      expect(r.removed).toHaveLength(1);
      expect(r.removed[0]).toContain(`.${killed.pid}.`);
      expect(readdirSync(d)).toEqual([readdirSync(d).find((f) => f.includes(`.${alive.pid}.`))]);
    } finally {
      await alive.kill();
    }
  });

  it('writeFileAtomic leaves no temp behind, neither when it succeeds nor when the rename fails', async () => {
    const d = freshDir();
    await writeFileAtomic(join(d, 'a.json'), '{"a":1}\n', { clock: wallClock });
    expect(readdirSync(d)).toEqual(['a.json']);
    mkdirSync(join(d, 'dir.json'));
    await expect(writeFileAtomic(join(d, 'dir.json'), '{}', { clock: wallClock, retries: 0 })).rejects.toThrow(/could not replace/);
    expect(readdirSync(d).sort()).toEqual(['a.json', 'dir.json']);
  });

  it('writeFileAtomic writes the parts in order, byte for byte, non-ASCII and multi-MB parts included', async () => {
    const d = freshDir();
    const big = JSON.stringify({ rows: Array.from({ length: 40_000 }, (_, i) => ({ i, s: `ü€𝄞${i}` })) }, null, 2);
    await writeFileAtomic(join(d, 'b.json'), [big, '\n', '', 'é'], { clock: wallClock });
    expect(readFileSync(join(d, 'b.json'), 'utf8')).toBe(`${big}\né`);
    expect(big.length).toBeGreaterThan(2_000_000);
    expect(readdirSync(d)).toEqual(['b.json']);
  });
});

describe('a snapshot from a run that ended uncleanly', () => {
  async function realSnapshotFile(dir: string, runStage: 'OBSERVE' | 'SHUTDOWN'): Promise<string> {
    // The last snapshot of a replayed real capture (stage OBSERVE), as a live run leaves it on disk.
    const { state } = await runReplay({ files: [FIXTURE_BTC], symbols: ['BTCUSDT'] });
    state.ops.run_id = 'deadrun1';
    state.ops.stage = runStage;
    state.ops.health_state = 'OK';
    const path = join(dir, 'latest_snapshot.json');
    await writeFileAtomic(path, `${JSON.stringify(state.commit(1723161325000), null, 2)}\n`, { clock: wallClock });
    return path;
  }

  it('is rewritten as SHUTDOWN / FAILED (PREVIOUS_RUN_UNCLEAN) naming the dead run, and still validates as a Snapshot', async () => {
    const path = await realSnapshotFile(freshDir(), 'OBSERVE');
    const before = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    const r = await markUncleanEnd(path, { runId: 'newrun22', clock: new ManualClock(Date.UTC(2024, 7, 8, 12, 0, 0)) });
    expect(r).toEqual({ marked: true, previousRunId: 'deadrun1', previousStage: 'OBSERVE' });
    const after = SnapshotSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
    expect(after.stage).toBe('SHUTDOWN');
    expect(after.health_state).toBe('FAILED');
    expect(after.health_reasons).toEqual(['PREVIOUS_RUN_UNCLEAN']);
    expect(after.ingestion_health).toMatchObject({ degraded: true, degraded_reason: 'PREVIOUS_RUN_UNCLEAN' });
    expect(after.health_detail).toBe(
      'run deadrun1 ended uncleanly: its last snapshot (stage OBSERVE, committed 2024-08-08T23:55:25.000Z) is kept below; no clean shutdown was recorded (killed, crashed or power lost). Found by run newrun22 at 2024-08-08T12:00:00.000Z.',
    );
    // Everything else is the dead run's record, unchanged.
    const { stage: _s, health_state: _h, health_reasons: _r, health_detail: _d, ingestion_health: _i, ...rest } = before;
    expect(after).toMatchObject(rest);
    expect(after.run_id).toBe('deadrun1');
    // Idempotent: marked once, the file now reads as ended.
    expect(await markUncleanEnd(path, { runId: 'newrun33', clock: new ManualClock(0) })).toEqual({ marked: false, why: 'clean_shutdown' });
    expect(readdirSync(join(path, '..'))).toEqual(['latest_snapshot.json']);
  });

  it('leaves a clean shutdown, its own run, a missing file and an unreadable file alone', async () => {
    const dir = freshDir();
    const clean = await realSnapshotFile(dir, 'SHUTDOWN');
    const bytes = readFileSync(clean, 'utf8');
    expect(await markUncleanEnd(clean, { runId: 'newrun22', clock: new ManualClock(0) })).toEqual({ marked: false, why: 'clean_shutdown' });
    expect(readFileSync(clean, 'utf8')).toBe(bytes);
    const own = await realSnapshotFile(freshDir(), 'OBSERVE');
    expect(await markUncleanEnd(own, { runId: 'deadrun1', clock: new ManualClock(0) })).toEqual({ marked: false, why: 'same_run' });
    expect(await markUncleanEnd(join(dir, 'none.json'), { runId: 'x', clock: new ManualClock(0) })).toEqual({ marked: false, why: 'no_file' });
    writeFileSync(join(dir, 'garbage.json'), '{"run_id": "a", "stage": ');
    expect(await markUncleanEnd(join(dir, 'garbage.json'), { runId: 'x', clock: new ManualClock(0) })).toEqual({ marked: false, why: 'unreadable' });
    expect(readFileSync(join(dir, 'garbage.json'), 'utf8')).toBe('{"run_id": "a", "stage": ');
  });

  it('the collector at start: removes a killed run’s snapshot temp, marks its snapshot, audits and tells it (real collector, simulator)', async () => {
    const seed = freshDir();
    const deadSnapshot = await realSnapshotFile(seed, 'OBSERVE');
    // An ancient temp (its pid may be anyone's now) and one of a writer that cannot exist: both stale.
    const temps = ['latest_snapshot.json.4194304999.1.tmp', `latest_snapshot.json.4194304999.${Date.now()}.tmp`];
    const rig = await startRig({
      beforeStart: (_sim, dir) => {
        mkdirSync(join(dir, 'debug'), { recursive: true });
        writeFileSync(join(dir, 'debug', 'latest_snapshot.json'), readFileSync(deadSnapshot));
        for (const t of temps) writeFileSync(join(dir, 'debug', t), '{');
      },
    });
    try {
      const debug = join(rig.dir, 'debug');
      for (const t of temps) expect(existsSync(join(debug, t)), t).toBe(false);
      expect(rig.lines.some((l) => l.includes('previous run deadrun1 ended uncleanly (last stage OBSERVE)'))).toBe(true);
      const audit = readFileSync(join(debug, 'audit.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => AuditEnvelopeSchema.parse(JSON.parse(l)));
      const unclean = audit.filter((a) => a.event_type === 'PREVIOUS_RUN_UNCLEAN');
      expect(unclean).toHaveLength(1);
      expect(unclean[0]).toMatchObject({
        run_id: 'test',
        reasons: ['PREVIOUS_RUN_UNCLEAN'],
        severity: 'WARN',
        payload: { previous_run_id: 'deadrun1', previous_stage: 'OBSERVE' },
      });
      // It is the first thing the run audits after its banner: before any snapshot of this run is written.
      expect(audit.findIndex((a) => a.event_type === 'PREVIOUS_RUN_UNCLEAN')).toBeLessThan(audit.findIndex((a) => a.event_type === 'STAGE_CHANGED'));
      await rig.collector.writeSnapshotFile();
      expect(SnapshotSchema.parse(JSON.parse(readFileSync(join(debug, 'latest_snapshot.json'), 'utf8'))).run_id).toBe('test');
    } finally {
      await rig.stop();
    }
  });
});
