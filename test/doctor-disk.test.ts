/**
 * The storage section and the disk/WAL findings: built from a real store's files (the fixture's
 * promoted events written by EventStore) and statfs figures, then judged; growth is measured
 * against the run's first reading; the periodic watch alerts a finding once, when it appears.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { StorageSchema, type Storage } from '../src/core/contracts/storage';
import { SnapshotSchema } from '../src/core/contracts/snapshot';
import { Engine } from '../src/core/engine';
import { SystemState } from '../src/core/system-state';
import { DISK_LIMITS, DiskWatch, humanBytes, storageFindings, storageSection } from '../src/doctor/disk';

import { freeBytes, storeFilesAt } from '../src/store/files';
import { EventStore } from '../src/store/store';
import { fixtureEvents, runStart, tempDir } from './store-helpers';

const tmp = tempDir('pp-disk-');
afterAll(() => tmp.cleanup());

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const T0 = 1_723_161_300_000;

function reading(over: Partial<Storage> = {}): Storage {
  return {
    sampled_ms: T0,
    store_path: '/data/peak-pressure.db',
    db_bytes: 10 * MiB,
    wal_bytes: 2 * MiB,
    store_free_bytes: 50 * GiB,
    captures_dir: '/captures',
    captures_bytes: 100 * MiB,
    captures_free_bytes: 50 * GiB,
    store_growth_bytes_per_hour: null,
    ...over,
  };
}

describe('storageSection', () => {
  it('from a real store: the sizes store.files() reads, the statfs free space, and a valid snapshot section', async () => {
    const path = join(tmp.dir, 'store', 'peak-pressure.db');
    const store = EventStore.open({ path, isRunAlive: () => false }, T0);
    store.startRun(runStart('disk-run', T0), T0);
    expect(store.persist({ events: await fixtureEvents() }, T0).ok).toBe(true);
    const files = store.files();
    expect(files).toEqual(storeFilesAt(path));
    expect(files.db_bytes + files.wal_bytes).toBeGreaterThan(0);
    const statfs = (): { bavail: number; bsize: number } => ({ bavail: 1_000, bsize: 4096 });
    const s = storageSection({
      nowMs: T0,
      storePath: path,
      files: storeFilesAt(path, statfs),
      capturesDir: join(tmp.dir, 'captures'),
      capturesBytes: 0,
      capturesFreeBytes: freeBytes(tmp.dir, statfs),
      reference: null,
    });
    expect(s).toEqual({
      sampled_ms: T0,
      store_path: path,
      db_bytes: files.db_bytes,
      wal_bytes: files.wal_bytes,
      store_free_bytes: 4_096_000,
      captures_dir: join(tmp.dir, 'captures'),
      captures_bytes: 0,
      captures_free_bytes: 4_096_000,
      store_growth_bytes_per_hour: null,
    });
    expect(StorageSchema.parse(s)).toEqual(s);
    store.close(T0 + 1);

    // Carried into the snapshot by the staging the collector fills.
    const engine = new Engine({ symbols: ['BTCUSDT'] });
    const state = new SystemState(engine, 'r', 'LIVE_PEAK_PRESSURE');
    expect(state.commit(T0).storage).toBeNull();
    state.ops.storage = s;
    const snap = state.commit(T0 + 500);
    expect(snap.storage).toEqual(s);
    expect(snap.storage).not.toBe(s);
    expect(SnapshotSchema.safeParse(snap).success).toBe(true);
  });

  it('growth per hour against the reference, only over at least MIN_GROWTH_SPAN_MS of the same store', () => {
    const ref = reading();
    const later = (ms: number, db: number, path = ref.store_path): Storage =>
      storageSection({
        nowMs: T0 + ms,
        storePath: path,
        files: { db_bytes: db, wal_bytes: 2 * MiB, free_bytes: 50 * GiB },
        capturesDir: '/captures',
        capturesBytes: 100 * MiB,
        capturesFreeBytes: 50 * GiB,
        reference: ref,
      });
    expect(later(30 * 60_000, 13 * MiB).store_growth_bytes_per_hour).toBe(6 * MiB);
    expect(later(DISK_LIMITS.MIN_GROWTH_SPAN_MS - 1, 13 * MiB).store_growth_bytes_per_hour).toBeNull();
    expect(later(30 * 60_000, 13 * MiB, '/elsewhere.db').store_growth_bytes_per_hour).toBeNull();
  });
});

describe('storageFindings', () => {
  it('nothing to say about roomy disks and a small WAL', () => {
    expect(storageFindings(reading(), 2 * GiB)).toEqual([]);
  });

  it('DISK_LOW for the store below the floor plus a week of its growth', () => {
    // 1 GiB floor + 7 × 24 h × 4 MiB/h = 1 GiB + 672 MiB.
    const growing = reading({ store_free_bytes: 1.5 * GiB, store_growth_bytes_per_hour: 4 * MiB });
    const [f, ...rest] = storageFindings(growing, null);
    expect(rest).toEqual([]);
    expect(f).toMatchObject({ reason: 'DISK_LOW', subject: 'store' });
    expect(f?.summary).toBe('1.5 GiB free beside the store /data/peak-pressure.db (12.0 MiB, growing 4.0 MiB/h); it needs 1.7 GiB');
    expect(storageFindings(reading({ store_free_bytes: 1.5 * GiB }), null)).toEqual([]);
    // Unknown free space is not judged here (the doctor's write check says whether the folder works at all).
    expect(storageFindings(reading({ store_free_bytes: null }), null)).toEqual([]);
  });

  it('DISK_LOW for captures that would fill the disk before reaching their budget; none when captures are off', () => {
    const r = reading({ captures_free_bytes: 2 * GiB, captures_bytes: 512 * MiB });
    // Needs 1 GiB floor + (2 GiB − 0.5 GiB) still to come = 2.5 GiB.
    const [f] = storageFindings(r, 2 * GiB);
    expect(f).toMatchObject({ reason: 'DISK_LOW', subject: 'captures' });
    expect(f?.summary).toBe('2.0 GiB free for captures in /captures (512.0 MiB of a 2.0 GiB budget used); it needs 2.5 GiB');
    expect(storageFindings(r, null)).toEqual([]);
    expect(storageFindings(r, 1 * GiB)).toEqual([]);
  });

  it('STORE_WAL_GROWING from WAL_MAX_BYTES on', () => {
    expect(storageFindings(reading({ wal_bytes: DISK_LIMITS.WAL_MAX_BYTES - 1 }), null)).toEqual([]);
    expect(storageFindings(reading({ wal_bytes: DISK_LIMITS.WAL_MAX_BYTES }), null).map((f) => f.reason)).toEqual(['STORE_WAL_GROWING']);
  });

  it('humanBytes', () => {
    expect([0, 1023, 1024, 1536 * 1024, 3 * GiB, -2 * MiB].map(humanBytes)).toEqual(['0 bytes', '1023 bytes', '1.0 KiB', '1.5 MiB', '3.0 GiB', '-2.0 MiB']);
  });
});

describe('DiskWatch: the periodic check', () => {
  it('judges each reading against the first, and reports a finding as fresh only when it appears', () => {
    const w = new DiskWatch(null);
    const sample = (ms: number, db: number, free: number) => ({
      nowMs: T0 + ms,
      storePath: '/data/peak-pressure.db',
      files: { db_bytes: db, wal_bytes: 0, free_bytes: free },
      capturesDir: '/captures',
      capturesBytes: null,
      capturesFreeBytes: null,
    });
    const first = w.update(sample(0, 10 * MiB, 10 * GiB));
    expect(first).toMatchObject({ findings: [], fresh: [], lasting: [] });
    expect(first.storage.store_growth_bytes_per_hour).toBeNull();
    // One hour later the store grew 100 MiB/h: a week of that (16.4 GiB) no longer fits in 10 GiB.
    const second = w.update(sample(3_600_000, 110 * MiB, 10 * GiB));
    expect(second.storage.store_growth_bytes_per_hour).toBe(100 * MiB);
    expect(second.fresh.map((f) => f.reason)).toEqual(['DISK_LOW']);
    expect(second.lasting.map((n) => n.reason)).toEqual(['DISK_LOW']);
    expect(second.lasting[0]?.detail).toMatch(/; fix: free space on that disk/);
    const third = w.update(sample(7_200_000, 210 * MiB, 10 * GiB));
    expect(third.findings.map((f) => f.reason)).toEqual(['DISK_LOW']);
    expect(third.fresh).toEqual([]);
    expect(w.latest).toBe(third.storage);
    // Space freed: the finding clears, and returns as fresh if it comes back.
    expect(w.update(sample(10_800_000, 210 * MiB, 100 * GiB)).lasting).toEqual([]);
    expect(w.update(sample(14_400_000, 210 * MiB, 1 * GiB)).fresh.map((f) => f.reason)).toEqual(['DISK_LOW']);
  });
});
