/**
 * The store's two SQLite drivers (src/store/driver.ts) on one file format: a store written by
 * either is read back by the other with every event byte for byte, in both directions, and each
 * reopens the other's file for writing; which driver a process uses (env, fallback); and the wasm
 * driver's lock folder: honoured by the native driver while its holder lives, broken once it died.
 * (Every other store test file runs against both drivers: describeEachDriver in store-helpers.ts.)
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PromotedEvent } from '../src/core/contracts/promoted';
import { eventLine } from '../src/replay/replay';
import { chosenDriver, DRIVER_ENV, type DriverName, nativeAvailable } from '../src/store/driver';
import { EventStore } from '../src/store/store';
import { lockDir, lockHolder } from '../src/store/wasm-lock';
import { CLI, ensureCliBuilt, FIXTURE_FILES } from './fixtures/paths';
import { writeOiCapture } from './fixtures/synthetic';
import { fixtureEvents, runStart, tempDir } from './store-helpers';

const T0 = 1_723_161_400_000;
const tmp = tempDir('pp-store-drivers-');
afterAll(() => tmp.cleanup());
let events: PromotedEvent[] = [];
beforeAll(async () => {
  events = await fixtureEvents();
});

const open = (path: string, driver: DriverName, readonly = false): EventStore => EventStore.open({ path, driver, readonly, isRunAlive: () => false }, T0);
const exported = (s: EventStore): string => [...s.iterateEvents()].map((r) => `${r.json}\n`).join('');
const sortedLines = (es: readonly PromotedEvent[]): string =>
  [...es]
    .sort((a, b) => a.window_end_ms - b.window_end_ms || (a.symbol < b.symbol ? -1 : 1))
    .map(eventLine)
    .join('');

describe('one file format, two drivers', () => {
  for (const [writer, reader] of [
    ['wasm', 'native'],
    ['native', 'wasm'],
  ] as const) {
    it(`a store written by ${writer} is read by ${reader} byte for byte, and written on by it`, () => {
      const path = join(tmp.dir, `${writer}-then-${reader}.db`);
      const w = open(path, writer);
      expect(w.status).toMatchObject({ state: 'OK', driver: writer });
      w.startRun(runStart('run-w', T0), T0);
      w.persist({ events: events.slice(0, -1) }, T0 + 1);
      const written = exported(w);
      w.close(T0 + 2);
      expect(written).toBe(sortedLines(events.slice(0, -1)));

      const r = open(path, reader, true);
      expect(r.status).toMatchObject({ state: 'OK', driver: reader });
      expect(exported(r)).toBe(written);
      expect(r.runs().map((x) => [x.run_id, x.end_kind])).toEqual([['run-w', 'clean']]);
      r.close(T0 + 3);

      const again = open(path, reader);
      again.startRun(runStart('run-r', T0 + 10), T0 + 10);
      expect(again.persist({ events }, T0 + 11)).toMatchObject({ ok: true, events_inserted: 1, duplicates: events.length - 1 });
      expect(again.select<{ ok: string }>('SELECT integrity_check AS ok FROM pragma_integrity_check')).toEqual([{ ok: 'ok' }]);
      again.close(T0 + 12);
      const back = open(path, writer, true);
      expect(exported(back)).toBe(sortedLines(events));
      back.close(T0 + 13);
    });
  }
});

describe('which driver', () => {
  it(`${DRIVER_ENV} picks one; unset or auto: native when its addon loads, else wasm; anything else is refused`, () => {
    expect(chosenDriver({ [DRIVER_ENV]: 'wasm' })).toBe('wasm');
    expect(chosenDriver({ [DRIVER_ENV]: 'native' })).toBe('native');
    const auto = nativeAvailable().ok ? 'native' : 'wasm';
    expect(chosenDriver({})).toBe(auto);
    expect(chosenDriver({ [DRIVER_ENV]: 'auto' })).toBe(auto);
    expect(() => chosenDriver({ [DRIVER_ENV]: 'sqljs' })).toThrow(/use native, wasm or auto/);
  });

  it('the native addon loads on this Linux machine (the wasm driver is the fallback, not the norm)', () => {
    expect(nativeAvailable()).toEqual({ ok: true });
  });
});

describe("the wasm driver's lock", () => {
  it('is held for the connection’s life with its holder recorded; the native driver refuses the file meanwhile', () => {
    const path = join(tmp.dir, 'held.db');
    const w = open(path, 'wasm');
    w.startRun(runStart('run-h', T0), T0);
    expect(lockHolder(path)).toEqual({ pid: process.pid, host: hostname(), alive: true });
    const n = open(path, 'native');
    expect(n.status.fault).toMatchObject({ kind: 'BUSY', code: 'SQLITE_BUSY' });
    expect(n.status.fault?.message).toContain(`held by the wasm driver of pid ${process.pid}`);
    w.close(T0 + 1);
    expect(existsSync(lockDir(path))).toBe(false);
    expect(lockHolder(path)).toBeNull();
    const after = open(path, 'native');
    expect(after.status.state).toBe('OK');
    after.close(T0 + 2);
  });

  it('left by a dead process is stale: the next wasm open removes it; one without a holder record is never broken', () => {
    const path = join(tmp.dir, 'stale.db');
    open(path, 'wasm').close(T0);
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    mkdirSync(lockDir(path));
    writeFileSync(`${path}.lock.owner`, JSON.stringify({ pid: Number(dead.stdout), host: hostname() }));
    expect(lockHolder(path)).toMatchObject({ alive: false });
    const s = open(path, 'wasm');
    expect(s.status.state).toBe('OK');
    expect(lockHolder(path)).toMatchObject({ pid: process.pid, alive: true });
    s.close(T0 + 1);

    mkdirSync(lockDir(path));
    const anon = EventStore.open({ path, driver: 'wasm', busyTimeoutMs: 30 }, T0);
    expect(anon.status.fault).toMatchObject({ kind: 'BUSY', code: 'SQLITE_BUSY' });
    expect(anon.status.fault?.message).toContain(`the folder ${lockDir(path)} exists; remove it if no Peak Pressure uses this file`);
    expect(existsSync(lockDir(path))).toBe(true);
  });
});

describe('the built CLI on the wasm driver (what a bundle without a win32 addon runs)', () => {
  const cli = (driver: DriverName, args: readonly string[]): SpawnSyncReturns<string> =>
    spawnSync(process.execPath, [CLI, ...args], { cwd: tmp.dir, encoding: 'utf8', env: { ...process.env, [DRIVER_ENV]: driver }, maxBuffer: 64 << 20 });

  it('replay --db stores the real fixtures’ events, and `events` exports them byte for byte as the native driver does', () => {
    ensureCliBuilt();
    const db = join(tmp.dir, 'cli-wasm.db');
    const r = cli('wasm', ['replay', ...FIXTURE_FILES, writeOiCapture(join(tmp.dir, 'oi.capture')), '--out', join(tmp.dir, 'cli.jsonl'), '--db', db]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/Events stored in .*cli-wasm\.db \(run replay-\S+\): 3 new, 0 already there/);
    for (const format of ['jsonl', 'csv']) {
      const wasm = cli('wasm', ['events', '--db', db, '--format', format]);
      const native = cli('native', ['events', '--db', db, '--format', format]);
      expect([wasm.status, native.status]).toEqual([0, 0]);
      expect(wasm.stderr).toMatch(/^3 event\(s\) from .*cli-wasm\.db\n$/);
      expect(wasm.stderr).toBe(native.stderr);
      expect(wasm.stdout.length).toBeGreaterThan(1_000);
      expect(wasm.stdout).toBe(native.stdout);
    }
  }, 180_000);
});
