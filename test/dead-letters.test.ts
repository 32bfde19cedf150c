/**
 * Dead letters off the hot path (issue 9 item 7): 200k bad frames once cost the collector 11 s of
 * synchronous appends and 75 MB of disk. Now the caller's cost stays near the engine's own, the
 * queue and the disk are bounded, and every letter is accounted for (written, dropped, failed).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, describe, expect, it } from 'vitest';
import { type DeadLetter, DeadLetterFile, deadLetterPart } from '../src/capture/dead-letter';
import { parseCaptureLine } from '../src/capture/format';
import { Engine } from '../src/core/engine';
import { binanceUsdm } from '../src/binance/adapter';
import { normalizeFrame } from '../src/binance/normalize';
import { FramePipeline } from '../src/core/pipeline';
import type { Frame } from '../src/core/source';
import { FIXTURE_BTC, readLines } from './fixtures/paths';

const tmp = mkdtempSync(join(tmpdir(), 'pp-deadletters-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/**
 * Real frames of the BTCUSDT fixture cut in the middle, as a broken socket delivers them; those the
 * normalizer calls malformed (a cut bookTicker is still recognised, and ignored, by its prefix).
 */
const BROKEN: Frame[] = readLines(FIXTURE_BTC)
  .slice(0, 8000)
  .map((l) => parseCaptureLine(l))
  .flatMap((r) => (r.kind === 'frame' ? [{ ...r.frame, text: r.frame.text.slice(0, Math.floor(r.frame.text.length / 2)) }] : []))
  .filter((f) => normalizeFrame(f).kind === 'malformed');

function letter(i: number, raw = `{"broken":${i}`): DeadLetter {
  return { recv_ms: 1723161255088 + i, source: 'ws:/market/stream', reason: 'invalid_json', raw };
}

function partsOf(path: string): string[] {
  const dir = join(path, '..');
  const base = path.slice(dir.length + 1);
  return readdirSync(dir)
    .filter((f) => f === base || /^\.\d+$/.test(f.slice(base.length)))
    .map((f) => join(dir, f));
}

function expectAccounted(dl: DeadLetterFile): void {
  const s = dl.stats();
  expect(s.queued).toBe(0);
  expect(s.written + s.dropped + s.failed).toBe(s.accepted);
}

describe('dead letters: the caller', () => {
  it('200k bad frames: no dead-letter call touches the disk on the hot path, and every letter is accounted for', async () => {
    expect(BROKEN.length).toBeGreaterThan(500);
    const N = 200_000;
    /** Runs the burst synchronously; `writeMs` is the time spent inside dl.write (printed, not asserted). */
    const run = (dl: DeadLetterFile | null): { engineMs: number; writeMs: number } => {
      const pipeline = new FramePipeline(binanceUsdm, new Engine({ symbols: ['BTCUSDT'] }));
      let writeMs = 0;
      const t0 = performance.now();
      for (let i = 0; i < N; i++) {
        const f = BROKEN[i % BROKEN.length] as Frame;
        const r = pipeline.ingest(f);
        if (r.kind === 'malformed' && dl !== null) {
          const w0 = performance.now();
          dl.write({ recv_ms: f.recv_ms, source: f.source, reason: r.reason, raw: f.text });
          writeMs += performance.now() - w0;
        }
      }
      expect(pipeline.counters.frame_outcomes.malformed).toBe(N);
      return { engineMs: performance.now() - t0 - writeMs, writeMs };
    };
    // The synchronous appends this replaced cost about as much as the engine itself (×1.5 to ×5 of
    // its time; the watermark fell 11 s behind). What makes the calls cheap is structural, so that is
    // what is asserted — a ratio of times would fail on a loaded machine: during the whole
    // synchronous burst not one byte reaches the file (the writes happen after the burst yields),
    // and the queue stays within its bound. The cost ratio is printed (about 1 % on a quiet machine).
    const sinks: DeadLetterFile[] = [];
    for (let k = 0; k < 2; k++) {
      const baseMs = run(null).engineMs;
      const dl = new DeadLetterFile(join(tmp, `burst${k}`, 'dead_letters.jsonl'));
      sinks.push(dl);
      const { writeMs } = run(dl);
      const onDisk = existsSync(dl.path) ? statSync(dl.path).size : 0;
      expect(onDisk, 'bytes written synchronously during the burst').toBe(0);
      expect(dl.stats().written).toBe(0);
      console.log(
        `200k malformed frames: engine ${baseMs.toFixed(0)} ms, dead-letter calls ${writeMs.toFixed(1)} ms (${(100 * (writeMs / baseMs)).toFixed(1)} %)`,
      );
      await dl.flush();
    }
    for (const dl of sinks) {
      expectAccounted(dl);
      const s = dl.stats();
      expect(s.accepted).toBe(N);
      // One synchronous burst: the queue filled once, the rest was counted, not serialised.
      expect(s.written).toBeGreaterThan(0);
      expect(s.dropped).toBe(N - s.written);
      expect(s.failed).toBe(0);
      expect(statSync(dl.path).size).toBe(s.bytes);
      expect(s.bytes).toBeLessThanOrEqual(1024 * 1024 + 16 * 1024);
    }
  });

  it('when the queue is full, write() counts the letter as dropped and returns; nothing grows', async () => {
    const dl = new DeadLetterFile(join(tmp, 'small-queue', 'dl.jsonl'), { maxQueuedChars: 10_000, maxPartBytes: 10_000 });
    for (let i = 0; i < 1000; i++) dl.write(letter(i, 'x'.repeat(100)));
    const fit = dl.stats().queued;
    expect(fit).toBeGreaterThan(40);
    expect(fit).toBeLessThan(100);
    expect(dl.dropped).toBe(1000 - fit);
    expect(dl.full).toBe(true);
    await dl.flush();
    expect(dl.full).toBe(false);
    expectAccounted(dl);
    expect(dl.written).toBe(fit);
    // The letters kept are the first ones, in order.
    const lines = readFileSync(dl.path, 'utf8').trim().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as DeadLetter).recv_ms)).toEqual(Array.from({ length: fit }, (_, i) => 1723161255088 + i));
  });
});

describe('dead letters: the disk', () => {
  it('rotates at maxPartBytes and keeps maxParts parts: the newest letters, in order, within maxParts × maxPartBytes', async () => {
    const path = join(tmp, 'rotate', 'dead_letters.jsonl');
    const dl = new DeadLetterFile(path, { maxPartBytes: 16 * 1024, maxParts: 3, maxQueuedChars: 4 * 1024 });
    const N = 2000;
    for (let i = 0; i < N; i++) {
      dl.write(letter(i, `{"e":"aggTrade","s":"BTCUSDT","p":"61800.${i}"`));
      // Paced as from a socket: the sink keeps up and drops nothing.
      if (i % 20 === 19) await dl.flush();
    }
    await dl.close();
    expectAccounted(dl);
    expect(dl.written).toBe(N);
    expect(dl.dropped).toBe(0);
    expect(dl.rotations).toBeGreaterThan(3);
    const parts = partsOf(path);
    expect(parts.sort()).toEqual([path, deadLetterPart(path, 1), deadLetterPart(path, 2)].sort());
    for (const p of parts) expect(statSync(p).size).toBeLessThanOrEqual(16 * 1024);
    // Oldest part first: recv_ms strictly increasing through .2, .1, current, ending at the last letter.
    const ids = [deadLetterPart(path, 2), deadLetterPart(path, 1), path].flatMap((p) =>
      readFileSync(p, 'utf8')
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as DeadLetter).recv_ms - 1723161255088),
    );
    expect(ids[ids.length - 1]).toBe(N - 1);
    for (let i = 1; i < ids.length; i++) expect(ids[i]).toBe((ids[i - 1] as number) + 1);
    expect(ids.length).toBeLessThan(N);
  });

  it('appends to an existing file (a restarted collector) and rotates it when full; truncate starts afresh', async () => {
    const path = join(tmp, 'append', 'dl.jsonl');
    const a = new DeadLetterFile(path);
    a.write(letter(1));
    await a.close();
    const b = new DeadLetterFile(path);
    b.write(letter(2));
    await b.close();
    expect(readFileSync(path, 'utf8').trim().split('\n')).toHaveLength(2);
    const c = new DeadLetterFile(path, { truncate: true });
    c.write(letter(3));
    await c.close();
    expect(readFileSync(path, 'utf8').trim().split('\n')).toHaveLength(1);
    expect(c.bytes).toBe(statSync(path).size);
  });

  it('an unwritable target is counted as failed with the cause, and a device is never renamed', async () => {
    if (existsSync('/dev/full')) {
      const full = new DeadLetterFile('/dev/full', { maxPartBytes: 100, maxQueuedChars: 100 });
      for (let i = 0; i < 10; i++) {
        full.write(letter(i));
        await full.flush();
      }
      expectAccounted(full);
      expect(full.failed).toBe(10);
      expect(full.written).toBe(0);
      expect(full.lastError).toBe('/dev/full: no space left on the device (ENOSPC)');
    }
    const blocker = join(tmp, 'blocker');
    writeFileSync(blocker, '');
    const under = new DeadLetterFile(join(blocker, 'x', 'dl.jsonl'));
    under.write(letter(0));
    await under.flush();
    expect(under.failed).toBe(1);
    expect(under.lastError).toContain(`${blocker} is not a directory`);
    if (existsSync('/dev/null')) {
      const devnull = new DeadLetterFile('/dev/null', { maxPartBytes: 200, maxQueuedChars: 100 });
      for (let i = 0; i < 50; i++) {
        devnull.write(letter(i));
        await devnull.flush();
      }
      expect(devnull.written).toBe(50);
      expect(devnull.rotations).toBe(0);
      expect(statSync('/dev/null').isCharacterDevice()).toBe(true);
    }
  });

  it('lines are safe to cat (no raw ESC, CR or bidi override) and parse back to the exact raw text', async () => {
    const path = join(tmp, 'safe', 'dl.jsonl');
    const dl = new DeadLetterFile(path);
    const raw = 'evil\x1b[2J\r\n[00:00:00] stage OBSERVE \u202egnp.exe\u0085\u2028';
    dl.write(letter(0, raw));
    await dl.close();
    const text = readFileSync(path, 'utf8');
    // eslint-disable-next-line no-control-regex -- the point: none of these may reach the file raw
    expect(text.slice(0, -1)).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/);
    expect((JSON.parse(text) as DeadLetter).raw).toBe(raw);
  });

  it('moveTo puts a finished run in place (removing older parts), discard leaves nothing', async () => {
    const dir = join(tmp, 'move');
    const final = join(dir, 'replay_dead_letters.jsonl');
    const old = new DeadLetterFile(final, { maxPartBytes: 1024, maxQueuedChars: 512 });
    for (let i = 0; i < 40; i++) {
      old.write(letter(i));
      await old.flush();
    }
    await old.close();
    expect(partsOf(final).length).toBeGreaterThan(1);
    const run = new DeadLetterFile(`${final}.123.456.tmp`, { truncate: true });
    run.write(letter(99));
    await run.moveTo(final);
    expect(readdirSync(dir)).toEqual(['replay_dead_letters.jsonl']);
    expect((JSON.parse(readFileSync(final, 'utf8')) as DeadLetter).recv_ms).toBe(1723161255088 + 99);
    const failed = new DeadLetterFile(`${final}.124.457.tmp`, { truncate: true });
    failed.write(letter(100));
    await failed.flush();
    await failed.discard();
    expect(readdirSync(dir)).toEqual(['replay_dead_letters.jsonl']);
  });
});
