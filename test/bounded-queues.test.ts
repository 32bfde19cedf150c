/**
 * The queues between the socket and the disk other than the capture's backlog (issue 9 item 1:
 * "RSS stays within a stated bound at any input rate"; README "Memory bound"): each has a named
 * bound, and what the bound drops or coalesces is counted where the snapshot shows it.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { binanceUsdm } from '../src/binance/adapter';
import type { CaptureGap } from '../src/capture/format';
import { readCapture } from '../src/capture/reader';
import { CaptureWriter } from '../src/capture/writer';
import { ManualClock } from '../src/clock/manual';
import { AUDIT_MAX_QUEUED_BYTES, AuditTrail } from '../src/collector/audit';
import { FrameIntake, INTAKE_MAX_EARLY_CHARS } from '../src/collector/intake';
import { silentLogger } from '../src/collector/log';
import { Operations } from '../src/collector/operations';
import { Reporter } from '../src/collector/report';
import { Engine } from '../src/core/engine';
import { FramePipeline } from '../src/core/pipeline';
import { SnapshotMailbox } from '../src/ipc/mailbox';

const T0 = 1_767_700_000_000;

describe('snapshots to the window: at most one in flight and one waiting', () => {
  it('a main thread that takes none coalesces the rest; each ack posts the newest waiting', () => {
    const posted: number[] = [];
    const box = new SnapshotMailbox<number>((n) => posted.push(n));
    box.offer(1);
    // The main thread is busy: 1000 commits later, still one posted, the newest waiting.
    for (let i = 2; i <= 1001; i++) box.offer(i);
    expect(posted).toEqual([1]);
    expect(box.coalesced).toBe(999);
    box.ack();
    expect(posted).toEqual([1, 1001]);
    box.ack();
    // Nothing waits: the next offer goes at once.
    box.offer(1002);
    expect(posted).toEqual([1, 1001, 1002]);
    expect(box.coalesced).toBe(999);
  });
});

describe('frames before detection starts', () => {
  it(`hold at most ${INTAKE_MAX_EARLY_CHARS} characters, oldest out first; the capture starts with a gap mark of exactly those`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pp-early-'));
    const clock = new ManualClock(T0);
    const audit = new AuditTrail(
      join(dir, 'audit.jsonl'),
      't',
      () => clock.now(),
      () => 'SYMBOL_SELECT',
    );
    const gaps: CaptureGap[] = [];
    const intake = new FrameIntake({
      operations: new Operations(),
      reporter: new Reporter({ clock, logger: silentLogger(), audit }),
      onFatal: () => undefined,
    });
    // A selection retrying against an exchange that answers 4 MiB bodies: 20 of them (80 MiB) arrive.
    const body = `{"code":-1,"msg":"${'x'.repeat(4 * 1024 * 1024)}"}`;
    for (let i = 0; i < 20; i++) intake.frame(body, T0 + i, 'rest:/fapi/v1/exchangeInfo');
    const kept = Math.floor(INTAKE_MAX_EARLY_CHARS / body.length);
    expect(intake.earlyDropped).toBe(20 - kept);
    const capture = new CaptureWriter({
      dir,
      runId: 't',
      clock,
      header: { run_id: 't' },
      maxFileBytes: 1 << 30,
      maxTotalBytes: 1 << 30,
      // Room for the whole early burst: this test is about the intake's bound, not the writer's.
      maxBacklogBytes: 64 * 1024 * 1024,
      onGap: (g) => gaps.push(g),
    });
    const pipeline = new FramePipeline(binanceUsdm, new Engine({ symbols: ['BTCUSDT'] }), () => undefined);
    intake.attach(pipeline, capture);
    expect(pipeline.counters.frames_received).toBe(kept);
    expect(gaps).toEqual([{ frames: 20 - kept, first_recv_ms: T0, last_recv_ms: T0 + 19 - kept, reason: 'early_backlog' }]);
    expect(capture.frames + capture.notCaptured).toBe(20);
    await capture.close();
    await audit.close();
    const items: string[] = [];
    for await (const item of readCapture(capture.currentFile as string)) if (item.kind !== 'header') items.push(item.kind);
    expect(items).toEqual(['gap', ...Array<string>(kept).fill('frame')]);
  });
});

describe('audit.jsonl', () => {
  it(`queues at most ${AUDIT_MAX_QUEUED_BYTES} bytes for the disk; past that lines are counted, and every record still reaches the store's mirror`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pp-audit-'));
    let mirrored = 0;
    const audit = new AuditTrail(
      join(dir, 'audit.jsonl'),
      't',
      () => T0,
      () => 'OBSERVE',
      () => mirrored++,
    );
    // One synchronous burst: the file stream cannot write any of it meanwhile.
    const n = 20_000;
    for (let i = 0; i < n; i++) audit.record({ event_type: 'HEALTH_CHANGED', payload: { detail: 'y'.repeat(200), i } });
    expect(mirrored).toBe(n);
    expect(audit.dropped).toBeGreaterThan(0);
    await audit.close();
    const lines = readFileSync(join(dir, 'audit.jsonl'), 'utf8').trim().split('\n');
    expect(lines.length + audit.dropped).toBe(n);
    // The bound held to within one line.
    expect(Buffer.byteLength(lines.join('\n'))).toBeLessThan(AUDIT_MAX_QUEUED_BYTES + 1024);
  });
});
