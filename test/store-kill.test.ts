/**
 * Durability of the store against a process killed at random moments (SPEC §21 "durable before it
 * appears"): a child writes batches and publishes each batch's ids only after `persist` returned;
 * it is killed with SIGKILL 20 times at random moments (seeded). After each kill: every published
 * event is in the store, none twice, the file passes integrity_check without repair, and the next
 * start records the killed run's end as unclean. (The collector's own kill test, against the
 * simulator, builds on this once the store is wired in.)
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { eventLine } from '../src/replay/replay';
import { EventStore } from '../src/store/store';
import { REPO_ROOT } from './fixtures/paths';
import { mulberry32 } from './helpers';
import { type DriverName } from '../src/store/driver';
import { describeEachDriver, fixtureEvents, runStart, tempDir } from './store-helpers';

const KILLS = 20;
const tmp = tempDir('pp-store-kill-');
afterAll(() => tmp.cleanup());
const dbOf = (driver: DriverName): string => join(tmp.dir, `peak-pressure-${driver}.db`);
const eventsFile = join(tmp.dir, 'events.jsonl');

function published(file: string): string[] {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, 'utf8');
  // A line cut by the kill was never complete: not published.
  return text
    .slice(0, text.lastIndexOf('\n') + 1)
    .split('\n')
    .filter((l) => l.length > 0);
}

function runChild(db: string, i: number, delayMs: number): Promise<{ ready: string; code: number | null; signal: string | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '-r',
        join(REPO_ROOT, 'test', 'fixtures', 'ts-register.cjs'),
        join(REPO_ROOT, 'test', 'store-kill-child.ts'),
        db,
        `kill-${i}`,
        eventsFile,
        `${db}.published-${i}.txt`,
      ],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, PP_TS_CACHE: join(tmp.dir, 'ts-cache') },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      const first = out.length === 0;
      out += d.toString();
      if (first) setTimeout(() => child.kill('SIGKILL'), delayMs);
    });
    child.on('error', reject);
    child.on('exit', (code, signal) =>
      code !== null && code !== 0 ? reject(new Error(`child ${i} exited ${code}: ${err}`)) : resolve({ ready: out.split('\n')[0] ?? '', code, signal }),
    );
  });
}

// The child inherits the driver of the block (PEAK_PRESSURE_STORE_DRIVER); the file is checked by the
// native driver either way, so under wasm this also proves that a WAL a killed wasm writer left is
// read by native SQLite, and that the dead writer's lock folder does not lock the next start out.
describeEachDriver('store under SIGKILL at random moments', (driver) => {
  const db = dbOf(driver);
  beforeAll(async () => {
    writeFileSync(eventsFile, (await fixtureEvents()).map(eventLine).join(''));
  });

  it(`${KILLS} kills: every published event is stored exactly once, the file needs no repair, each killed run ends unclean`, async () => {
    // Seeded: the kill moments are random but the same on every run.
    const next = mulberry32(20_261_201);
    const seen = new Set<string>();
    for (let i = 0; i < KILLS; i++) {
      const r = await runChild(db, i, Math.floor(next() * 250));
      expect(r.signal).toBe('SIGKILL');
      // The child started by closing the run killed before it.
      expect(r.ready).toBe(i === 0 ? 'ready ' : `ready kill-${i - 1}`);
      const conn = new Database(db, { readonly: true });
      try {
        expect(conn.pragma('integrity_check', { simple: true })).toBe('ok');
        const ids = new Set((conn.prepare('SELECT event_id FROM events WHERE run_id = ?').all(`kill-${i}`) as { event_id: string }[]).map((x) => x.event_id));
        const pub = published(`${db}.published-${i}.txt`);
        for (const id of pub) expect(ids.has(id), `published ${id} is stored`).toBe(true);
        for (const id of ids) {
          expect(seen.has(id)).toBe(false);
          seen.add(id);
        }
        const dup = conn.prepare('SELECT count(*) - count(DISTINCT policy_id || event_id) AS d FROM events').get() as { d: number };
        expect(dup.d).toBe(0);
      } finally {
        conn.close();
      }
    }
    const last = EventStore.open({ path: db }, Date.now());
    const r = last.startRun(runStart('after', Date.now()), Date.now());
    expect(r.ok && r.unclean.map((u) => u.run_id)).toEqual([`kill-${KILLS - 1}`]);
    last.close(Date.now());
    const runs = EventStore.open({ path: db, readonly: true }).runs();
    expect(runs.filter((x) => x.run_id.startsWith('kill-')).every((x) => x.end_kind === 'unclean' && x.ended_ms !== null)).toBe(true);
    expect(runs.filter((x) => x.run_id.startsWith('kill-'))).toHaveLength(KILLS);
    expect(seen.size).toBeGreaterThan(KILLS);
  }, 180_000);
});
