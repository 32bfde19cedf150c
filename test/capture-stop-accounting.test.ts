/**
 * The last snapshot says what is on disk (issue 12 item 3: a 24 h day with books on lost one part
 * of ~476k frames from its final counts). Closing the capture ends its last part and enforces the
 * total cap once more, which can delete a part; the dead letters still queued go to disk. Both now
 * happen before the final commit, so the final snapshot's capture and dead-letter sections match
 * the files exactly: frames on disk + frames removed = frames written, nothing in flight.
 */
import { statSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { readCapture, REFUSED_PREFIX } from '../src/capture/reader';
import { captureFiles, type Rig, startRig } from './collector-harness';

const PART = 24 * 1024;
const TOTAL = 60 * 1024;

let rig: Rig | null = null;
afterEach(async () => {
  await rig?.stop();
  rig = null;
});

const onDisk = (dir: string): number => captureFiles(dir).reduce((s, f) => s + statSync(f).size, 0);

describe('collector stop: the final snapshot counts what the close did', () => {
  it('a part the total cap deletes at close, and dead letters still queued, are in the last snapshot', async () => {
    const r = await startRig({
      config: { books: false },
      collector: { captureTuning: { maxFileBytes: PART, maxTotalBytes: TOTAL } },
    });
    rig = r;
    // Past the cap on disk with the current part counted: only a rotation or the close enforces
    // it, so the close must delete a part.
    await r.until('the parts on disk exceed the total cap', () => (r.collector.stats().capture?.files.length ?? 0) >= 3 && onDisk(r.dir) > TOTAL, 300_000);
    const before = r.collector.stats().capture;
    if (before === null) throw new Error('no capture');
    const removedBefore = before.partsRemoved;
    // Garbage just before the stop: its dead letters are accepted but not yet written.
    r.sim.fault({ kind: 'garbage', count: 40 });
    await r.until('garbage accepted', () => r.latest().dead_letter_stats.accepted >= 40, 5000);
    const stopped = r;
    rig = null;
    await stopped.stop();

    const cap = stopped.collector.stats().capture;
    if (cap === null) throw new Error('no capture');
    const last = stopped.latest();
    expect(cap.partsRemoved).toBeGreaterThan(removedBefore);
    const files = captureFiles(stopped.dir);
    expect(last.capture).toEqual({
      frames: cap.frames,
      refused: cap.refused,
      not_captured: 0,
      gaps: 0,
      parts_written: cap.files.length,
      parts_removed: cap.partsRemoved,
      frames_removed: cap.framesRemoved,
      backlog_bytes: 0,
    });
    expect(cap.lateFrames).toBe(0);
    expect(files.length + cap.partsRemoved).toBe(cap.files.length);
    let lines = 0;
    for (const f of files) {
      for await (const item of readCapture(f)) {
        if (item.kind === 'frame' || (item.kind === 'bad' && item.reason.startsWith(REFUSED_PREFIX))) lines++;
      }
    }
    expect(lines + cap.framesRemoved).toBe(cap.frames + cap.refused);
    // Every frame the collector received is accounted for by the capture.
    expect(cap.frames + cap.refused).toBe(stopped.collector.counters()?.frames.frames_received);
    const d = last.dead_letter_stats;
    expect(d.queued).toBe(0);
    expect(d.written).toBe(d.accepted);
    expect(d.accepted).toBeGreaterThanOrEqual(40);
  }, 180_000);
});
