/**
 * The real collector against the loopback simulator, one fault at a time. Each case asserts:
 * detected (health state + reason code), recovered (data flows again), counted, nothing received
 * lost (every frame has exactly one outcome and is in the capture), no crash, memory bounded.
 *
 * Simulator and collector share a manual clock (collector-harness.ts): watchdogs, backoffs,
 * rotations and Retry-After pauses take clock time, not wall time, so the limits below
 * (`until(…, ms)`) are clock milliseconds and a slow machine only makes a case take longer.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readCapture } from '../src/capture/reader';
import { LIMITS } from '../src/core/constants';
import { SnapshotSchema } from '../src/core/contracts/snapshot';
import { captureFiles, MANUAL_T0, type Rig, startRig, tradesSeen } from './collector-harness';

let rig: Rig | null = null;

afterEach(async () => {
  await rig?.stop();
  rig = null;
});

const wsState = (r: Rig): string | undefined => r.collector.stats().market?.state;
const reconnects = (r: Rig): number => r.collector.stats().market?.reconnects ?? 0;
const engineCounters = (r: Rig) => r.collector.counters()?.frames;
const duplicates = (r: Rig): number => r.collector.counters()?.symbols.reduce((s, d) => s + d.counters.duplicate_trades, 0) ?? 0;

async function flowing(r: Rig): Promise<void> {
  await r.until('market stream open and trades flowing', () => wsState(r) === 'OPEN' && tradesSeen(r) > 50);
}

function assertNothingLost(r: Rig): void {
  const c = r.collector.counters();
  expect(c).not.toBeNull();
  if (!c) return;
  const o = c.frames.frame_outcomes;
  expect(o.event + o.ignored + o.dropped + o.malformed).toBe(c.frames.frames_received);
  const capture = r.collector.stats().capture;
  expect(capture?.frames).toBe(c.frames.frames_received);
  // Frames the socket refused never reach the normalizer, but they are in the capture too.
  const refused = (c.frames.malformed_by_reason.binary_frame ?? 0) + (c.frames.malformed_by_reason.oversized_frame ?? 0);
  expect(capture?.refused).toBe(refused);
  expect(process.memoryUsage().heapUsed).toBeLessThan(400 * 1024 * 1024);
  for (const d of c.symbols) {
    expect(d.buffered.trades).toBeLessThanOrEqual(500);
    expect(d.buffered.liquidations).toBeLessThanOrEqual(200);
  }
}

async function recovered(r: Rig, what: string): Promise<void> {
  const before = tradesSeen(r);
  await r.until(`${what}: trades flow again`, () => wsState(r) === 'OPEN' && tradesSeen(r) > before + 50, 30_000);
}

describe('startup', () => {
  it('selects the 10 eligible symbols by quote volume, connects, polls OI and writes the snapshot file', async () => {
    rig = await startRig();
    const r = rig;
    await flowing(r);
    const sel = r.collector.stats().selection;
    expect(sel?.symbols).toEqual([...r.sim.symbols]);
    expect(sel?.fallbackUsed).toBe(false);
    // Decoys (BREAK, TRADIFI_PERPETUAL, delivery, USDC-quoted) never make it in.
    for (const s of sel?.symbols ?? []) expect(s).toMatch(/^[A-Z0-9]+USDT$/);
    expect(r.lines.some((l) => l.includes('[SYMBOL CONFIG] Fetched TOP 10 symbols by 24h volume:'))).toBe(true);
    await r.until('every symbol polled for OI', () => Object.values(r.collector.stats().oi?.lastSuccessMs ?? {}).every((t) => t !== null), 15_000);
    await r.until(
      'mark price streams flowing',
      () => Object.values(r.collector.stats().market?.streams ?? {}).filter((s) => s.state === 'FLOWING').length >= 20,
      15_000,
    );
    await r.collector.writeSnapshotFile();
    const text = readFileSync(join(r.dir, 'debug', 'latest_snapshot.json'), 'utf8');
    const file = JSON.parse(text) as unknown;
    // The support file is JSON.stringify(snapshot, null, 2) and one newline: indented for the person reading it.
    expect(text).toBe(`${JSON.stringify(file, null, 2)}\n`);
    expect(text.length).toBeGreaterThan(64 * 1024);
    const parsed = SnapshotSchema.safeParse(file);
    expect(parsed.success).toBe(true);
    if (parsed.success) {
      expect(parsed.data.symbols_active).toEqual(sel?.symbols);
      expect(parsed.data.mode).toBe('DEMO');
      expect(parsed.data.streams.ws_state).toBe('OPEN');
    }
    assertNothingLost(r);
  });

  it('syncs every book from /public depth and paced REST snapshots; the connection-open record and the bodies are in the capture', async () => {
    rig = await startRig();
    const r = rig;
    await flowing(r);
    const books = () => r.latest().books;
    await r.until('every book LIVE', () => Object.values(books()?.per_symbol ?? {}).filter((b) => b.state === 'LIVE').length === r.sim.symbols.length, 30_000);
    const section = books();
    expect(section?.connections).toBe(1);
    // Locked (bid = ask) happens: the recorded SOLUSDT diffs leave a locked top for a moment, as raw diff depth can.
    for (const s of r.sim.symbols) {
      const b = section?.per_symbol[s];
      expect(b?.pu_gaps, s).toBe(0);
      expect(b?.best_bid !== null && b?.best_ask !== null && Number(b?.best_bid) <= Number(b?.best_ask), `${s} ${JSON.stringify(b)}`).toBe(true);
    }
    assertNothingLost(r);
    await r.collector.stop();
    const frames: { source: string }[] = [];
    for (const file of captureFiles(r.dir)) for await (const item of readCapture(file)) if (item.kind === 'frame') frames.push(item.frame);
    expect(
      frames.filter((f) => f.source === 'local:/public/stream').length,
      JSON.stringify([captureFiles(r.dir).length, frames.length, [...new Set(frames.map((f) => f.source.slice(0, 20)))]]),
    ).toBe(1);
    expect(new Set(frames.filter((f) => f.source.startsWith('rest:/fapi/v1/depth')).map((f) => f.source)).size).toBe(r.sim.symbols.length);
  });

  it('falls back to the documented list ∩ TRADING when the 24h ticker keeps failing', async () => {
    // The simulator refuses the ticker before the collector asks; the retries between the three tries wait on the clock.
    rig = await startRig({
      sim: { seed: 3 },
      config: { capture: { enabled: false } },
      beforeStart: (sim) => sim.fault({ kind: 'rest_status', path: '/fapi/v1/ticker/24hr', status: 503, count: 10 }),
    });
    const c = rig.collector;
    const sel = c.stats().selection;
    expect(sel?.fallbackUsed).toBe(true);
    // MATICUSDT is in the documented list but no longer trades; it must not be selected.
    expect(sel?.symbols).not.toContain('MATICUSDT');
    expect(sel?.symbols.length).toBeGreaterThan(0);
    await rig.until('fallback flagged in health', () => c.stats().health.reasons.includes('SYMBOLS_FALLBACK_USED'), 5000);
  });
});

describe('health and stages over time', () => {
  it('a commit that runs late (the thread was busy): INGEST_BACKLOG naming the lag, cleared at the next on-time commit', async () => {
    rig = await startRig({ config: { capture: { enabled: false } } });
    const r = rig;
    await flowing(r);
    // The collector's clock jumps 2.5 s between two commits, as when its thread was busy that long.
    r.skew(2_500);
    await r.until('INGEST_BACKLOG reported', () => r.latest().health_reasons.includes('INGEST_BACKLOG'), 2_000);
    expect(r.latest().health_detail).toContain('the collector runs 2.5 s behind its input');
    await r.until('INGEST_BACKLOG cleared', () => !r.latest().health_reasons.includes('INGEST_BACKLOG'), 2_000);
  });

  it('STARTING for the first minute, then OK; WARMUP until every baseline is warm, then OBSERVE', async () => {
    rig = await startRig();
    const r = rig;
    await flowing(r);
    expect(r.collector.stats().stage).toBe('WARMUP');
    // The collector started at MANUAL_T0; health stays STARTING while it is up for less than 60 s.
    await r.run(MANUAL_T0 + 59_500 - r.clock.now());
    expect(r.latest().timestamp).toBe((MANUAL_T0 + 59_500) / 1000);
    expect(r.latest().health_state).toBe('STARTING');
    await r.run(500);
    expect(r.latest().health_state).toBe('OK');
    expect(r.latest().health_reasons).toEqual([]);
    await r.until('every baseline warm', () => r.collector.stats().stage === 'OBSERVE', 180_000);
    expect(r.lines.some((l) => l.endsWith('stage OBSERVE — all baselines warm'))).toBe(true);
    assertNothingLost(r);
    await r.stop(); // the audit trail is complete once closed
    const audit = readFileSync(join(r.dir, 'debug', 'audit.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event_type: string; ts_ms: number; symbol: string });
    const warm = audit.filter((a) => a.event_type === 'BASELINE_WARM');
    expect(warm.map((a) => a.symbol).sort()).toEqual([...r.sim.symbols].sort());
    // Audit times are the clock's: within the run, never the wall clock.
    for (const a of audit) expect(a.ts_ms).toBeGreaterThanOrEqual(MANUAL_T0);
    for (const a of audit) expect(a.ts_ms).toBeLessThanOrEqual(r.clock.now());
  });
});

describe('WebSocket faults', () => {
  it('abrupt close: detected as WS_RECONNECTING, reconnects, data flows again', async () => {
    rig = await startRig();
    const r = rig;
    await flowing(r);
    r.sim.fault({ kind: 'abrupt_close' });
    await r.until('reconnect detected', () => reconnects(r) >= 1, 10_000);
    // Health is evaluated at each commit; the reconnect backoff (1 s) outlasts the next one.
    await r.run(500);
    expect(r.snapshots.some((s) => s.health_reasons.includes('WS_RECONNECTING')) || r.lines.some((l) => l.includes('WS_RECONNECTING'))).toBe(true);
    await recovered(r, 'abrupt close');
    assertNothingLost(r);
  });

  it('half-open connection: the stale watchdog terminates it, health says WS_STALE until data flows again', async () => {
    rig = await startRig({ config: { staleAfterMs: 2000 } });
    const r = rig;
    await flowing(r);
    r.sim.fault({ kind: 'half_open', ms: 6000 });
    await r.until('WS_STALE reported', () => r.latest().health_reasons.includes('WS_STALE') && r.latest().health_state === 'DEGRADED', 15_000);
    expect(r.latest().health_detail).toContain('stale watchdog');
    expect(reconnects(r)).toBeGreaterThanOrEqual(1);
    await recovered(r, 'half-open');
    await r.until('WS_STALE cleared', () => !r.latest().health_reasons.includes('WS_STALE'), 5000);
    assertNothingLost(r);
  });

  it('ACK but no data on one stream: reported STREAM_SILENT for that stream, cleared when data returns', async () => {
    rig = await startRig();
    const r = rig;
    await flowing(r);
    await r.until('markPrice flowing', () => r.collector.stats().market?.streams['btcusdt@markPrice@1s']?.state === 'FLOWING', 10_000);
    r.sim.fault({ kind: 'ack_no_data', stream: 'btcusdt@markPrice@1s', ms: 9000 });
    await r.until('stream reported silent', () => r.latest().streams.per_stream['btcusdt@markPrice@1s']?.state === 'SILENT', 15_000);
    await r.until('health names the reason', () => r.latest().health_reasons.includes('STREAM_SILENT') && r.latest().health_state === 'DEGRADED', 5000);
    expect(r.latest().health_detail).toContain('btcusdt@markPrice@1s');
    // Only that stream: the others keep flowing.
    expect(r.latest().streams.per_stream['ethusdt@markPrice@1s']?.state).toBe('FLOWING');
    await r.until('stream flowing again', () => r.latest().streams.per_stream['btcusdt@markPrice@1s']?.state === 'FLOWING', 20_000);
    await r.until('reason cleared', () => !r.latest().health_reasons.includes('STREAM_SILENT'), 5000);
    assertNothingLost(r);
  });

  it('garbage and schema-violating frames: counted, dead-lettered, never thrown; data keeps flowing', async () => {
    rig = await startRig();
    const r = rig;
    await flowing(r);
    const before = engineCounters(r)?.malformed_events ?? 0;
    r.sim.fault({ kind: 'garbage', count: 7 });
    r.sim.fault({ kind: 'schema_violation', count: 5 });
    await r.until('12 malformed frames counted', () => (engineCounters(r)?.malformed_events ?? 0) >= before + 12, 10_000);
    await r.until('dead letters in the snapshot', () => r.latest().dead_letters >= 12, 5000);
    // `dead_letters` counts them as soon as they are accepted; the file is written in batches after.
    await r.until('dead letters on disk', () => r.latest().dead_letter_stats.written >= 12, 5000);
    const dl = readFileSync(join(r.dir, 'debug', 'dead_letters.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { reason: string; source: string });
    expect(dl.length).toBeGreaterThanOrEqual(12);
    expect(dl.some((d) => d.reason === 'invalid_json')).toBe(true);
    expect(dl.some((d) => d.reason.startsWith('schema_violation:'))).toBe(true);
    expect(dl.every((d) => d.source === 'ws:/market/stream')).toBe(true);
    // A dozen bad frames are counted, not a health problem.
    expect(r.snapshots.some((s) => s.health_reasons.includes('MALFORMED_PAYLOAD'))).toBe(false);
    await recovered(r, 'garbage');
    assertNothingLost(r);
  });

  it('a flood of garbage: MALFORMED_PAYLOAD while it lasts; the snapshot counts every dead letter at the commit, not a batch later', async () => {
    rig = await startRig();
    const r = rig;
    await flowing(r);
    r.sim.fault({ kind: 'garbage', count: 300 });
    await r.until('MALFORMED_PAYLOAD reported', () => r.latest().health_reasons.includes('MALFORMED_PAYLOAD'), 5000);
    expect(r.latest().health_state).toBe('DEGRADED');
    // Every malformed input is dead-lettered: the count in the same snapshot agrees exactly.
    for (const s of r.snapshots.slice(-5)) {
      expect(s.dead_letters).toBe(s.counters.malformed_events);
      expect(s.dead_letter_stats.accepted).toBe(s.dead_letters);
      const d = s.dead_letter_stats;
      expect(d.written + d.dropped + d.failed + d.queued).toBe(d.accepted);
    }
    await recovered(r, 'garbage flood');
    // The trailing minute forgets the flood.
    await r.until('MALFORMED_PAYLOAD cleared', () => !r.latest().health_reasons.includes('MALFORMED_PAYLOAD'), 70_000);
    assertNothingLost(r);
  });

  it('local clock behind the exchange: every event is from the future, exchange time stands still → DATA_STALE, cleared when the clock is right', async () => {
    rig = await startRig();
    const r = rig;
    await flowing(r);
    await r.run(1000);
    r.skew(-20_000);
    await r.until('DATA_STALE reported', () => r.latest().health_reasons.includes('DATA_STALE'), 20_000);
    expect(r.latest().health_detail).toContain('exchange time has not moved');
    // Frames kept arriving all along: not a connection problem, and trades were still received.
    expect(r.latest().health_reasons).not.toContain('NO_TRADES');
    expect(wsState(r)).toBe('OPEN');
    r.skew(0);
    await r.until('DATA_STALE cleared', () => !r.latest().health_reasons.includes('DATA_STALE'), 5000);
    assertNothingLost(r);
  });

  it('binary frames: refused by the socket, counted, dead-lettered and in the capture; data keeps flowing', async () => {
    rig = await startRig();
    const r = rig;
    await flowing(r);
    r.sim.fault({ kind: 'binary', count: 3 });
    await r.until('3 binary frames counted', () => (engineCounters(r)?.malformed_by_reason.binary_frame ?? 0) >= 3, 10_000);
    expect(r.collector.stats().capture?.refused).toBe(3);
    await recovered(r, 'binary');
    assertNothingLost(r);
    // Dead letters are written in batches off the hot path; stopping flushes them.
    await r.stop();
    const dl = readFileSync(join(r.dir, 'debug', 'dead_letters.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { reason: string });
    expect(dl.filter((d) => d.reason === 'binary_frame')).toHaveLength(3);
    // Read back from the closed capture: the three refused frames, each with what it carried.
    const refused: string[] = [];
    for (const file of captureFiles(r.dir)) for await (const item of readCapture(file)) if (item.kind === 'bad') refused.push(item.reason);
    expect(refused).toEqual(['refused:binary_frame', 'refused:binary_frame', 'refused:binary_frame']);
  });

  it('duplicate aggTrades: dropped by id and counted', async () => {
    rig = await startRig();
    const r = rig;
    await flowing(r);
    r.sim.fault({ kind: 'duplicate', count: 20 });
    await r.until('duplicates counted', () => duplicates(r) >= 20, 10_000);
    expect(r.latest().counters.duplicate_trades).toBeGreaterThanOrEqual(0);
    await recovered(r, 'duplicates');
    assertNothingLost(r);
  });

  it('out-of-order frames: accepted without loss (windows fold in (T, id) order)', async () => {
    rig = await startRig();
    const r = rig;
    await flowing(r);
    const malformedBefore = engineCounters(r)?.malformed_events ?? 0;
    const gapsBefore = r.latest().counters.trade_id_gaps;
    r.sim.fault({ kind: 'out_of_order', count: 40 });
    await recovered(r, 'out of order');
    expect(engineCounters(r)?.malformed_events).toBe(malformedBefore);
    // Reordered ids fill the holes they opened: no trade is missing, so no gap is counted
    // (once the wait for late ids is over, the count is final).
    await r.run(LIMITS.TRADE_ID_HOLE_WAIT_MS + 1000);
    expect(r.latest().counters.trade_id_gaps).toBe(gapsBefore);
    expect(r.latest().counters.duplicate_trades).toBe(0);
    assertNothingLost(r);
  });

  it('burst: a 10× rate is absorbed, every frame accounted for', async () => {
    rig = await startRig();
    const r = rig;
    await flowing(r);
    const before = engineCounters(r)?.frames_received ?? 0;
    r.sim.fault({ kind: 'burst', factor: 10, ms: 4000 });
    await r.until('burst received', () => (engineCounters(r)?.frames_received ?? 0) > before + 500, 15_000);
    await recovered(r, 'burst');
    assertNothingLost(r);
  });

  it('the exchange 24 h close: reconnects and resumes', async () => {
    rig = await startRig();
    const r = rig;
    await flowing(r);
    r.sim.fault({ kind: 'close_24h' });
    await r.until('reconnected after the 24 h close', () => reconnects(r) >= 1, 10_000);
    await recovered(r, '24 h close');
    assertNothingLost(r);
  });

  it('proactive rotation before the 24 h limit: make-before-break, no reconnect counted, no duplicates', async () => {
    rig = await startRig({ config: { rotateAfterMs: 4000 } });
    const r = rig;
    await flowing(r);
    const dupBefore = r.latest().counters.duplicate_trades;
    await r.until('two rotations done', () => r.sim.stats().connections >= 3, 20_000);
    await recovered(r, 'rotation');
    expect(r.collector.stats().market?.reconnects).toBe(0);
    // Overlapping connections may deliver the same trade twice; the core drops it by id.
    expect(duplicates(r)).toBeGreaterThanOrEqual(dupBefore);
    assertNothingLost(r);
  });
});

describe('REST faults', () => {
  it('429 with Retry-After: OI polling backs off, health says REST_RATE_LIMITED_429, then recovers', async () => {
    rig = await startRig();
    const r = rig;
    await flowing(r);
    r.sim.fault({ kind: 'rest_status', path: '/fapi/v1/openInterest', status: 429, count: 1, retryAfterS: 3 });
    await r.until('429 reported', () => r.latest().health_reasons.includes('REST_RATE_LIMITED_429'), 10_000);
    expect(r.latest().oi_polling.state === 'BACKOFF' || r.latest().oi_polling.backoff_until_ms !== null).toBe(true);
    const errors = r.latest().oi_polling.errors;
    expect(errors).toBeGreaterThanOrEqual(1);
    await r.until('OI polling OK again', () => r.latest().oi_polling.state === 'OK' && !r.latest().health_reasons.includes('REST_RATE_LIMITED_429'), 20_000);
    assertNothingLost(r);
  });

  it('418 ban: health says REST_BANNED_418 and nothing is sent until Retry-After passed', async () => {
    rig = await startRig();
    const r = rig;
    await flowing(r);
    r.sim.fault({ kind: 'rest_status', path: '/fapi/v1/openInterest', status: 418, count: 1, retryAfterS: 4 });
    await r.until('418 reported', () => r.latest().health_reasons.includes('REST_BANNED_418'), 10_000);
    const requestsAtBan = r.sim.stats().restRequests['/fapi/v1/openInterest'] ?? 0;
    await r.run(2000);
    expect(r.sim.stats().restRequests['/fapi/v1/openInterest'] ?? 0).toBe(requestsAtBan);
    await r.until('recovered from the ban', () => !r.latest().health_reasons.includes('REST_BANNED_418') && r.latest().oi_polling.state === 'OK', 20_000);
    assertNothingLost(r);
  });

  it('403: DEGRADED with REST_FORBIDDEN_403_451 while it lasts', async () => {
    rig = await startRig();
    const r = rig;
    await flowing(r);
    r.sim.fault({ kind: 'rest_status', path: '/fapi/v1/openInterest', status: 403, count: 3 });
    await r.until('403 reported', () => r.latest().health_reasons.includes('REST_FORBIDDEN_403_451') && r.latest().health_state === 'DEGRADED', 10_000);
    await r.until('cleared after successes', () => !r.latest().health_reasons.includes('REST_FORBIDDEN_403_451'), 20_000);
    assertNothingLost(r);
  });

  it('5xx: REST_SERVER_ERROR while the symbols answered so have not succeeded again; polling continues', async () => {
    rig = await startRig();
    const r = rig;
    await flowing(r);
    await r.until('first OI polls', () => r.latest().oi_polling.state === 'OK', 10_000);
    r.sim.fault({ kind: 'rest_status', path: '/fapi/v1/openInterest', status: 502, count: 2 });
    await r.until('REST_SERVER_ERROR reported', () => r.latest().health_reasons.includes('REST_SERVER_ERROR'), 10_000);
    expect(r.latest().health_state).toBe('DEGRADED');
    expect(r.latest().health_detail).toMatch(/[A-Z0-9]+USDT HTTP 502/);
    expect(r.latest().oi_polling.last_error ?? '').toContain('HTTP 502');
    await r.until('REST_SERVER_ERROR cleared by the next successes', () => !r.latest().health_reasons.includes('REST_SERVER_ERROR'), 15_000);
    assertNothingLost(r);
  });

  it('5xx and timeouts: counted as OI errors, polling continues', async () => {
    rig = await startRig({ config: { oiTimeoutMs: 800 } });
    const r = rig;
    await flowing(r);
    await r.until('first OI polls', () => r.latest().oi_polling.state === 'OK', 10_000);
    r.sim.fault({ kind: 'rest_status', path: '/fapi/v1/openInterest', status: 503, count: 2 });
    r.sim.fault({ kind: 'rest_slow', path: '/fapi/v1/openInterest', delayMs: 2000, count: 2 });
    await r.until('4 errors counted', () => r.latest().oi_polling.errors >= 4, 15_000);
    expect(r.latest().oi_polling.last_error ?? '').toMatch(/HTTP 503|timed out/);
    const polls = r.collector.stats().oi?.polls ?? 0;
    await r.until('polling continues', () => (r.collector.stats().oi?.polls ?? 0) > polls + 5, 15_000);
    assertNothingLost(r);
  });
});
