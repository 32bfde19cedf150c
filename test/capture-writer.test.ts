/**
 * The capture recorder: rotation at the size cap, deletion of the oldest parts beyond the total
 * cap, every part readable (also while being written) in the replay format, and recorded depth
 * volume handed to gzip in few, large jobs.
 */
import { existsSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { CAPTURE_BATCH_CHARS, type CapturePartRemoved, CaptureWriter } from '../src/capture/writer';
import type { CaptureGap } from '../src/capture/format';
import { wallClock } from '../src/clock/clock';
import { readCapture } from '../src/capture/reader';
import { ManualClock } from '../src/clock/manual';
import type { Frame } from '../src/core/source';
import { depthInput } from './book-helpers';
import { FIXTURE_BTC } from './fixtures/paths';

function frame(i: number): Frame {
  // Incompressible-ish payloads so the compressed size grows with the count.
  const noise = ((i * 2654435761) >>> 0).toString(36) + ((i * 40503) >>> 0).toString(16);
  return {
    recv_ms: 1_767_700_000_000 + i,
    source: 'ws:/market/stream',
    text: `{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","a":${i},"x":"${noise}${noise}"}}`,
  };
}

async function readAll(files: string[]): Promise<{ frames: Frame[]; headers: number }> {
  const frames: Frame[] = [];
  let headers = 0;
  for (const f of files) {
    for await (const item of readCapture(f)) {
      if (item.kind === 'frame') frames.push(item.frame);
      else if (item.kind === 'header') headers++;
    }
  }
  return { frames, headers };
}

const untilDrained = async (w: CaptureWriter, below: number): Promise<void> => {
  // Waits for gzip's thread-pool work (real I/O), bounded so a broken writer fails instead of hanging.
  for (const giveUp = Date.now() + 30_000; w.backlogBytes >= below;) {
    if (Date.now() > giveUp) throw new Error(`backlog still ${w.backlogBytes} bytes after 30 s`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('capture writer under overload', () => {
  it('past its backlog bound frames are counted, not queued; the gap is marked with the exact count; captured + not captured = received', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pp-cap-'));
    const max = 1024 * 1024;
    const gaps: CaptureGap[] = [];
    const w = new CaptureWriter({
      dir,
      runId: 'r1',
      header: { run_id: 'r1', symbols: ['BTCUSDT'] },
      maxFileBytes: 1 << 30,
      maxTotalBytes: 1 << 30,
      clock: wallClock,
      maxBacklogBytes: max,
      onGap: (g) => gaps.push(g),
    });
    // One synchronous burst of ~26 MB: gzip (on the thread pool) cannot take any of it meanwhile,
    // as when the feed outruns gzip and the disk for good.
    const burst = 200_000;
    let peak = 0;
    for (let i = 0; i < burst; i++) {
      w.write(frame(i));
      peak = Math.max(peak, w.backlogBytes);
    }
    expect(w.backlogged).toBe(true);
    // The bound holds to within one batch (64 Ki characters) and one line.
    expect(peak).toBeLessThan(max + 64 * 1024 + 200);
    const dropped = w.notCaptured;
    expect(dropped).toBeGreaterThan(burst / 2);
    expect(w.frames + dropped).toBe(burst);
    expect(gaps).toEqual([]);
    // Once gzip has caught up to half the bound, the next frame closes the gap: its mark goes first.
    await untilDrained(w, max / 2);
    w.write(frame(burst));
    expect(w.backlogged).toBe(false);
    expect(gaps).toEqual([{ frames: dropped, first_recv_ms: frame(w.frames - 1).recv_ms, last_recv_ms: frame(burst - 1).recv_ms, reason: 'capture_backlog' }]);
    await w.close();
    const items = [];
    for await (const item of readCapture(w.files[0] as string)) items.push(item);
    const frames = items.filter((i) => i.kind === 'frame');
    const marks = items.filter((i) => i.kind === 'gap');
    expect(marks).toEqual([{ kind: 'gap', gap: gaps[0], file: 0 }]);
    expect(frames.length).toBe(w.frames);
    expect(frames.length + dropped).toBe(burst + 1);
    // The mark sits where the frames are missing: after the last frame captured before the gap, before the first after it.
    const at = items.findIndex((i) => i.kind === 'gap');
    expect(items[at - 1]).toMatchObject({ kind: 'frame', frame: frame(w.frames - 2) });
    expect(items[at + 1]).toMatchObject({ kind: 'frame', frame: frame(burst) });
  });

  it('the part size cap holds while gzip lags behind (rotation counts what still waits for gzip)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pp-cap-'));
    const cap = 256 * 1024;
    const w = new CaptureWriter({ dir, runId: 'r1', header: { run_id: 'r1' }, maxFileBytes: cap, maxTotalBytes: 1 << 30, clock: wallClock });
    // Bursts far faster than gzip, without waiting for it in between (before: parts grew past the cap by the backlog).
    for (let b = 0; b < 8; b++) {
      for (let i = 0; i < 20_000; i++) w.write(frame(b * 20_000 + i));
      await new Promise((r) => setImmediate(r));
    }
    await w.close();
    expect(w.files.length).toBeGreaterThan(3);
    const sizes = w.files.map((f) => statSync(f).size);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(cap);
    const { frames } = await readAll(w.files);
    expect(frames.length + w.notCaptured).toBe(160_000);
  });
});

describe('capture writer', () => {
  it('rotates at the size cap; the parts concatenate to exactly the frames written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pp-cap-'));
    const w = new CaptureWriter({
      dir,
      runId: 'r1',
      header: { run_id: 'r1', symbols: ['BTCUSDT'] },
      maxFileBytes: 6_000,
      maxTotalBytes: 1 << 30,
      clock: wallClock,
      flushEveryMs: 20,
    });
    const written: Frame[] = [];
    for (let i = 0; i < 12_000; i++) {
      const f = frame(i);
      written.push(f);
      w.write(f);
      // Let the gzip stream drain so the compressed size is known when the writer checks it.
      if (i % 1000 === 999) await new Promise((r) => setTimeout(r, 30));
    }
    await w.close();
    expect(w.files.length).toBeGreaterThan(2);
    const files = readdirSync(dir)
      .filter((f) => f.endsWith('.pp.gz'))
      .sort()
      .map((f) => join(dir, f));
    expect(files).toEqual(w.files);
    const { frames, headers } = await readAll(files);
    expect(headers).toBe(files.length);
    expect(frames).toEqual(written);
  });

  it('deletes the oldest parts beyond the total cap and keeps the newest, counting each part and the frames it held', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pp-cap-'));
    const removed: CapturePartRemoved[] = [];
    const w = new CaptureWriter({
      dir,
      runId: 'r2',
      header: { run_id: 'r2' },
      maxFileBytes: 10_000,
      maxTotalBytes: 40_000,
      clock: wallClock,
      flushEveryMs: 20,
      onRemoved: (r) => removed.push(r),
    });
    for (let i = 0; i < 30_000; i++) {
      w.write(frame(i));
      if (i % 1000 === 999) await new Promise((r) => setTimeout(r, 30));
    }
    await w.close();
    const left = readdirSync(dir).filter((f) => f.endsWith('.pp.gz'));
    expect(w.files.length).toBeGreaterThan(left.length);
    const total = left.reduce((s, f) => s + statSync(join(dir, f)).size, 0);
    // Oldest parts go while the total exceeds the cap; only the newest part may stand alone above it.
    expect(total <= 40_000 || left.length === 1).toBe(true);
    const withoutNewest = left
      .sort()
      .slice(0, -1)
      .reduce((s, f) => s + statSync(join(dir, f)).size, 0);
    expect(withoutNewest).toBeLessThanOrEqual(40_000);
    expect(existsSync(w.files[w.files.length - 1] as string)).toBe(true);
    expect(existsSync(w.files[0] as string)).toBe(false);
    const { frames } = await readAll(left.sort().map((f) => join(dir, f)));
    expect(frames[frames.length - 1]).toEqual(frame(29_999));
    // What the cap deleted is counted part by part: on disk + removed = written, and the frames on
    // disk are exactly the newest ones (the removed ones are the oldest).
    expect(w.partsRemoved).toBe(w.files.length - left.length);
    expect(removed.map((r) => r.file)).toEqual(w.files.slice(0, w.partsRemoved));
    expect(removed.every((r) => r.frames !== null && r.frames > 0 && r.bytes > 0)).toBe(true);
    expect(w.framesRemoved).toBe(removed.reduce((s, r) => s + (r.frames ?? 0), 0));
    expect(frames.length + w.framesRemoved).toBe(30_000);
    expect(frames[0]).toEqual(frame(w.framesRemoved));
    expect(w.section()).toMatchObject({ frames: 30_000, parts_written: w.files.length, parts_removed: w.partsRemoved, frames_removed: w.framesRemoved });
  });

  it("an earlier run's part deleted by the cap is counted as a part, its frames as unknown", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pp-cap-'));
    const opts = { dir, header: {}, maxFileBytes: 10_000, maxTotalBytes: 30_000, clock: wallClock, flushEveryMs: 20 };
    const first = new CaptureWriter({ ...opts, runId: 'a1', header: { run_id: 'a1' } });
    for (let i = 0; i < 400; i++) first.write(frame(i));
    await first.close();
    expect(first.partsRemoved).toBe(0);
    const earlier = readdirSync(dir).filter((f) => f.endsWith('.pp.gz'));
    expect(earlier.length).toBeGreaterThan(0);
    const removed: CapturePartRemoved[] = [];
    const second = new CaptureWriter({ ...opts, runId: 'b2', header: { run_id: 'b2' }, onRemoved: (r) => removed.push(r) });
    for (let i = 0; i < 20_000; i++) {
      second.write(frame(i));
      if (i % 1000 === 999) await new Promise((r) => setTimeout(r, 30));
    }
    await second.close();
    const foreign = removed.filter((r) => r.frames === null).map((r) => r.file.slice(dir.length + 1));
    expect(foreign.sort()).toEqual(earlier.sort());
    expect(second.partsRemoved).toBe(removed.length);
    const left = readdirSync(dir).filter((f) => f.includes('-b2-'));
    const { frames } = await readAll(left.sort().map((f) => join(dir, f)));
    expect(frames.length + second.framesRemoved).toBe(20_000);
  });

  it('a part still being written replays up to the last flush', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pp-cap-'));
    const w = new CaptureWriter({
      dir,
      runId: 'r3',
      header: { run_id: 'r3' },
      maxFileBytes: 1 << 30,
      maxTotalBytes: 1 << 30,
      clock: wallClock,
      flushEveryMs: 20,
    });
    for (let i = 0; i < 500; i++) w.write(frame(i));
    await new Promise((r) => setTimeout(r, 200));
    const { frames } = await readAll([w.currentFile as string]);
    expect(frames).toEqual(Array.from({ length: 500 }, (_, i) => frame(i)));
    await w.close();
  });

  it('frames, refusals and gaps handed over after close are counted as not captured (lateFrames), never lost unseen', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pp-cap-'));
    const w = new CaptureWriter({ dir, runId: 'r4', header: { run_id: 'r4' }, maxFileBytes: 1 << 30, maxTotalBytes: 1 << 30, clock: wallClock });
    for (let i = 0; i < 10; i++) w.write(frame(i));
    await w.close();
    w.write(frame(10));
    w.writeRefused(frame(11), 'binary_frame');
    w.writeGap({ frames: 5, first_recv_ms: 1, last_recv_ms: 2, reason: 'socket_backlog' });
    expect(w.section()).toMatchObject({ frames: 10, refused: 0, not_captured: 7, gaps: 0 });
    expect(w.lateFrames).toBe(7);
    const { frames } = await readAll(w.files);
    expect(frames).toEqual(Array.from({ length: 10 }, (_, i) => frame(i)));
  });
});

describe('capture writer at depth volume', () => {
  it('hands recorded depth frames to gzip in 1 MiB batches: ten times fewer gzip jobs than 64 KiB batches, every frame captured', async () => {
    // Each gzip job's completion waits for a turn of the collector's busy event loop, so jobs per
    // byte set how fast the capture can go when the machine is loaded (CAPTURE_BATCH_CHARS).
    const texts = depthInput([FIXTURE_BTC]).frames.map((f) => f.frame.text);
    const dir = mkdtempSync(join(tmpdir(), 'pp-cap-depth-'));
    let chunks = 0;
    const w = new CaptureWriter({
      dir,
      runId: 'depth',
      header: { run_id: 'depth', symbols: ['BTCUSDT'] },
      maxFileBytes: 1 << 30,
      maxTotalBytes: 1 << 30,
      // Room for the whole burst (what is counted here is the jobs, not gzip's speed); no flush cadence fires.
      maxBacklogBytes: 256 * 1024 * 1024,
      clock: new ManualClock(1_767_700_000_000),
      disk: () =>
        new Transform({
          transform(chunk: Buffer, _enc, cb): void {
            chunks++;
            cb(null, chunk);
          },
        }),
    });
    let chars = 0;
    let n = 0;
    // 16 MB of depth frames, synchronously (a burst, as after a stall of the loop).
    while (chars < 16e6) {
      const text = texts[n % texts.length] as string;
      w.write({ recv_ms: 1_767_700_000_000 + n, source: 'ws:/public/stream', text });
      chars += text.length;
      n++;
    }
    await w.close();
    expect(w.notCaptured).toBe(0);
    expect(w.frames).toBe(n);
    // Measured: 29 output chunks for these 16 MB (16 batches); 64 KiB batches into 16 KiB output chunks made 298.
    expect(chunks).toBeLessThanOrEqual(2 * Math.ceil(chars / CAPTURE_BATCH_CHARS) + 4);
    const back = await readAll(w.files);
    expect(back.frames.length).toBe(n);
    expect(back.frames[n - 1]?.text).toBe(texts[(n - 1) % texts.length]);
  });
});
