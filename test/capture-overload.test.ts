/**
 * Overload at collector level (issue 9 items 1 and 8): the real collector against the simulator on
 * the shared manual clock, its capture's disk stalled on purpose (a stage between gzip and the file
 * that stops taking bytes) instead of hoping a loaded machine is slow enough. While the disk
 * stalls, the backlog stays at its bound, frames are counted as not captured (detection still sees
 * every one), health says CAPTURE_BACKLOG; once the disk moves again the gap is closed and marked.
 * Then, exactly: frames received = captured + not captured; the marks in the capture = the audit's
 * CAPTURE_GAP records = the count; and a replay of the capture reports the same not_captured.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { readCapture } from '../src/capture/reader';
import type { CaptureGap } from '../src/capture/format';
import { runReplay } from '../src/replay/replay';
import { type Rig, startRig } from './collector-harness';

/** The disk as the capture writer sees it: takes every byte until stalled, then none until resumed. */
class StallingDisk extends Transform {
  private held: TransformCallback | null = null;
  constructor(private readonly gate: { stalled: boolean; waiting: Set<StallingDisk> }) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.push(chunk);
    if (!this.gate.stalled) return cb();
    this.held = cb;
    this.gate.waiting.add(this);
  }
  unstall(): void {
    const cb = this.held;
    this.held = null;
    cb?.();
  }
}

const BOUND = 256 * 1024;
/** The writer hands lines to gzip in batches of an eighth of the bound (32 Ki characters here); one more line may be on the way. */
const SLACK = 64 * 1024 + 4096;

let rig: Rig | null = null;
afterEach(async () => {
  await rig?.stop();
  rig = null;
});

describe('collector overload: a stalled capture disk', () => {
  it('keeps the backlog bound, counts every frame it could not capture, marks it in the capture, and replay reports the same not_captured', async () => {
    const gate = { stalled: false, waiting: new Set<StallingDisk>() };
    const r = await startRig({
      config: { books: false },
      collector: { captureTuning: { maxBacklogBytes: BOUND, disk: () => new StallingDisk(gate) } },
    });
    rig = r;
    await r.until('frames are captured', () => (r.collector.stats().capture?.frames ?? 0) > 200);
    gate.stalled = true;
    let peak = 0;
    const watch = (): boolean => {
      const c = r.collector.stats().capture;
      peak = Math.max(peak, c?.backlogBytes ?? 0);
      return (c?.notCaptured ?? 0) > 0;
    };
    await r.until('the stalled disk makes the capture drop frames', watch, 120_000);
    // Keep feeding the stalled capture for a while: the bound holds whatever comes.
    for (let i = 0; i < 30; i++) {
      await r.run(100);
      watch();
    }
    expect(peak).toBeLessThanOrEqual(BOUND + SLACK);
    const during = r.collector.stats().capture;
    expect(during?.notCaptured).toBeGreaterThan(0);
    expect(r.latest().health_reasons).toContain('CAPTURE_BACKLOG');
    // The disk moves again: gzip drains, the next frame closes the gap and its mark goes in.
    gate.stalled = false;
    for (const d of gate.waiting) d.unstall();
    gate.waiting.clear();
    await r.until('the gap is closed', () => (r.collector.stats().capture?.gaps ?? 0) > 0, 30_000);
    await r.run(1000);
    const stopped = r;
    rig = null;
    await stopped.stop();

    const stats = stopped.collector.stats();
    const cap = stats.capture;
    if (cap === null) throw new Error('no capture');
    const frames = stopped.collector.counters()?.frames;
    // Exactly: every frame detection saw was captured or counted as not captured.
    expect(cap.refused).toBe(0);
    expect(cap.frames + cap.notCaptured).toBe(frames?.frames_received);
    // The capture holds the captured frames and marks that add up to the count.
    const marks: CaptureGap[] = [];
    let captured = 0;
    const files = [...cap.files];
    for (const f of files) {
      for await (const item of readCapture(f)) {
        if (item.kind === 'frame') captured++;
        else if (item.kind === 'gap') marks.push(item.gap);
      }
    }
    expect(captured).toBe(cap.frames);
    // The snapshot's capture section says the same (nothing was deleted by the total cap).
    expect(stopped.latest().capture).toEqual({
      frames: cap.frames,
      refused: 0,
      not_captured: cap.notCaptured,
      gaps: cap.gaps,
      parts_written: files.length,
      parts_removed: 0,
      frames_removed: 0,
      // The last commit comes after the close: nothing waits for gzip any more.
      backlog_bytes: 0,
    });
    expect(marks.length).toBe(cap.gaps);
    expect(marks.reduce((s, g) => s + g.frames, 0)).toBe(cap.notCaptured);
    // The audit trail has one CAPTURE_GAP per mark, with the same figures.
    const audit = readFileSync(join(stopped.dir, 'debug', 'audit.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event_type: string; payload?: CaptureGap });
    expect(audit.filter((a) => a.event_type === 'CAPTURE_GAP').map((a) => a.payload)).toEqual(marks);
    // The replay reports the same not_captured.
    const replay = await runReplay({ files, nearMisses: false });
    expect(replay.summary.not_captured).toBe(cap.notCaptured);
    expect(replay.summary.frames).toBe(cap.frames);
    expect(readdirSync(join(stopped.dir, 'captures')).length).toBe(files.length);
  }, 120_000);
});
