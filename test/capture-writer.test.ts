/**
 * The capture recorder: rotation at the size cap, deletion of the oldest parts beyond the total
 * cap, and every part readable (also while being written) in the replay format.
 */
import { existsSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CaptureWriter } from '../src/capture/writer';
import { wallClock } from '../src/clock/clock';
import { readCapture } from '../src/capture/reader';
import type { Frame } from '../src/core/source';

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

  it('deletes the oldest parts beyond the total cap and keeps the newest', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pp-cap-'));
    const w = new CaptureWriter({
      dir,
      runId: 'r2',
      header: { run_id: 'r2' },
      maxFileBytes: 10_000,
      maxTotalBytes: 40_000,
      clock: wallClock,
      flushEveryMs: 20,
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
});
