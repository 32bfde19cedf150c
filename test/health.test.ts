/** Health state machine (SPEC §8.4) and the trailing-60 s rate meter. */
import { describe, expect, it } from 'vitest';
import { evaluateHealth, HEALTH, type HealthInputs, RateMeter } from '../src/collector/health';
import type { SinkStatus } from '../src/core/contracts/sink-status';
import { sinkHealth } from '../src/sinks/health';

const T0 = 1_767_700_000_000;
function inputs(over: Partial<HealthInputs> = {}): HealthInputs {
  return {
    nowMs: T0 + 120_000,
    startedMs: T0,
    fatal: null,
    wsState: 'OPEN',
    lastTradeRecvMs: T0 + 119_900,
    tradesPerSecond: 250,
    klineSource: 'synthetic',
    klinesPerSecond: 9.5,
    oiLastSuccessMs: { BTCUSDT: T0 + 118_000, ETHUSDT: T0 + 117_000 },
    silentStreams: [],
    restBlock: null,
    symbolsFallback: false,
    symbolsUnavailable: null,
    malformedPerMinute: 0,
    ingestLagMs: 0,
    captureBacklog: { backlogged: false, lastMinute: 0, total: 0 },
    restServerErrors: {},
    wsStale: null,
    watermarkStillForMs: 50,
    ...over,
  };
}

describe('health verdict', () => {
  it('INGEST_BACKLOG from a commit a second late or more, naming the lag', () => {
    const late = evaluateHealth(inputs({ ingestLagMs: 2_340 }));
    expect(late).toEqual({
      state: 'DEGRADED',
      reasons: ['INGEST_BACKLOG'],
      detail:
        'the collector runs 2.3 s behind its input (a commit came that late): frames wait that long before detection sees them; the machine is overloaded',
    });
    expect(evaluateHealth(inputs({ ingestLagMs: HEALTH.INGEST_LAG_MS - 1 })).state).toBe('OK');
  });

  it('CAPTURE_BACKLOG while the capture drops frames and for the minute after, with the exact counts', () => {
    const dropping = evaluateHealth(inputs({ captureBacklog: { backlogged: true, lastMinute: 1234, total: 5678 } }));
    expect(dropping.state).toBe('DEGRADED');
    expect(dropping.reasons).toEqual(['CAPTURE_BACKLOG']);
    expect(dropping.detail).toBe(
      'the capture cannot keep up (gzip or the disk is slower than the feed): 1234 frames not captured in the last minute, 5678 in all, still dropping; each gap is marked in the capture with its count',
    );
    expect(evaluateHealth(inputs({ captureBacklog: { backlogged: false, lastMinute: 3, total: 3 } })).reasons).toEqual(['CAPTURE_BACKLOG']);
    expect(evaluateHealth(inputs({ captureBacklog: { backlogged: false, lastMinute: 0, total: 3 } })).state).toBe('OK');
    expect(evaluateHealth(inputs({ captureBacklog: null })).state).toBe('OK');
  });

  it('is OK when everything flows', () => {
    expect(evaluateHealth(inputs())).toEqual({ state: 'OK', reasons: [], detail: '' });
  });

  it('is STARTING during the first minute and before the first trade', () => {
    expect(evaluateHealth(inputs({ nowMs: T0 + 30_000 })).state).toBe('STARTING');
    expect(evaluateHealth(inputs({ lastTradeRecvMs: null })).state).toBe('STARTING');
  });

  it('degrades on no trade for 5 s across all symbols, on a low trade rate, and on stale OI', () => {
    const silent = evaluateHealth(inputs({ lastTradeRecvMs: T0 + 114_000 }));
    expect(silent.state).toBe('DEGRADED');
    expect(silent.reasons).toEqual(['NO_TRADES']);
    expect(evaluateHealth(inputs({ lastTradeRecvMs: T0 + 115_001 })).state).toBe('OK');
    expect(evaluateHealth(inputs({ tradesPerSecond: 9.9 })).reasons).toEqual(['TRADES_RATE_LOW']);
    const oi = evaluateHealth(inputs({ oiLastSuccessMs: { BTCUSDT: T0 + 109_999, ETHUSDT: T0 + 119_000 } }));
    expect(oi.reasons).toEqual(['OI_STALE']);
    expect(oi.detail).toContain('BTCUSDT');
    expect(oi.detail).not.toContain('ETHUSDT');
  });

  it('degrades on reconnects, silent streams and REST restrictions even while starting', () => {
    const v = evaluateHealth(inputs({ nowMs: T0 + 10_000, wsState: 'RECONNECTING', silentStreams: ['btcusdt@markPrice@1s'], restBlock: 'REST_BANNED_418' }));
    expect(v.state).toBe('DEGRADED');
    expect(v.reasons).toEqual(['WS_RECONNECTING', 'REST_BANNED_418', 'STREAM_SILENT']);
    expect(v.detail).toContain('btcusdt@markPrice@1s');
  });

  it('degrades while a scale-out sink fails (SINK_DEGRADED, with what waits), even while starting; a sink that delivers adds nothing', () => {
    const sink = (state: SinkStatus['state'], backlog: number): SinkStatus => ({
      sink: 'redis://127.0.0.1:6379',
      kind: 'redis',
      state,
      backlog,
      delivered: 10,
      delivered_total: 10,
      delivered_seq: 10,
      last_delivered_ms: T0 + 60_000,
      oldest_pending_ms: backlog > 0 ? T0 + 61_000 : null,
      failures: state === 'DEGRADED' ? 3 : 0,
      failing_since_ms: state === 'DEGRADED' ? T0 + 62_000 : null,
      last_error: state === 'DEGRADED' ? 'connect ECONNREFUSED 127.0.0.1:6379' : null,
      warning: null,
      skipped: 0,
      rejected: 0,
    });
    expect(evaluateHealth(inputs({ sinks: sinkHealth([sink('OK', 0), sink('CONNECTING', 4)]) }))).toEqual({ state: 'OK', reasons: [], detail: '' });
    const down = evaluateHealth(inputs({ nowMs: T0 + 10_000, sinks: sinkHealth([sink('OK', 0), sink('DEGRADED', 42)]) }));
    expect(down.state).toBe('DEGRADED');
    expect(down.reasons).toEqual(['SINK_DEGRADED']);
    expect(down.detail).toBe(
      `sink redis://127.0.0.1:6379: connect ECONNREFUSED 127.0.0.1:6379; 42 rows wait in the local store (failing since ${new Date(T0 + 62_000).toISOString()}), last delivered ${new Date(T0 + 60_000).toISOString()}`,
    );
  });

  it('never uses the liquidation rate, flags the fallback list without degrading, and FAILED wins over all', () => {
    expect(evaluateHealth(inputs({ symbolsFallback: true }))).toMatchObject({ state: 'OK', reasons: ['SYMBOLS_FALLBACK_USED'] });
    expect(evaluateHealth(inputs({ klineSource: 'exchange', klinesPerSecond: 0.5 })).reasons).toEqual(['KLINE_MISSING']);
    const f = evaluateHealth(inputs({ fatal: { reason: 'SYMBOL_LEAK', detail: 'x' }, wsState: 'RECONNECTING' }));
    expect(f).toEqual({ state: 'FAILED', reasons: ['SYMBOL_LEAK'], detail: 'x' });
  });

  it("lists the doctor's lasting findings without degrading (STARTING and OK stay), and keeps real reasons degrading", () => {
    const notes = [
      { reason: 'DISK_LOW' as const, detail: '100.0 MiB free beside the store' },
      { reason: 'CLOCK_SKEW' as const, detail: 'local clock 3.0 s behind' },
    ];
    expect(evaluateHealth(inputs({ notes }))).toEqual({
      state: 'OK',
      reasons: ['DISK_LOW', 'CLOCK_SKEW'],
      detail: '100.0 MiB free beside the store; local clock 3.0 s behind',
    });
    expect(evaluateHealth(inputs({ notes, nowMs: T0 + 30_000 })).state).toBe('STARTING');
    const both = evaluateHealth(inputs({ notes, tradesPerSecond: 9.9 }));
    expect(both.state).toBe('DEGRADED');
    expect(both.reasons).toEqual(['TRADES_RATE_LOW', 'DISK_LOW', 'CLOCK_SKEW']);
  });
});

describe('reasons raised where they belong (issue 9 item 7)', () => {
  it("REST_SERVER_ERROR while a symbol's last OI poll got a 5xx, naming it and the status", () => {
    const v = evaluateHealth(inputs({ restServerErrors: { BTCUSDT: 503 } }));
    expect(v.state).toBe('DEGRADED');
    expect(v.reasons).toEqual(['REST_SERVER_ERROR']);
    expect(v.detail).toContain('BTCUSDT HTTP 503');
  });

  it("WS_STALE while the stale watchdog's cut is not yet followed by data, even while starting", () => {
    const v = evaluateHealth(inputs({ nowMs: T0 + 10_000, wsStale: { atMs: T0 + 9_000, silentForMs: 31_000 }, wsState: 'RECONNECTING' }));
    expect(v.reasons).toEqual(['WS_RECONNECTING', 'WS_STALE']);
    expect(v.detail).toContain('no frame at all for 31 s');
  });

  it('MALFORMED_PAYLOAD from a rate threshold: a few bad frames are only counted, a flood degrades', () => {
    expect(evaluateHealth(inputs({ malformedPerMinute: HEALTH.MALFORMED_PER_MIN - 1 })).state).toBe('OK');
    const v = evaluateHealth(inputs({ malformedPerMinute: HEALTH.MALFORMED_PER_MIN }));
    expect(v.reasons).toEqual(['MALFORMED_PAYLOAD']);
    expect(v.detail).toContain('dead_letters.jsonl');
  });

  it('DATA_STALE when frames arrive but exchange time stands still; not while no frame arrives', () => {
    expect(evaluateHealth(inputs({ watermarkStillForMs: HEALTH.DATA_STALE_MS - 1 })).state).toBe('OK');
    expect(evaluateHealth(inputs({ watermarkStillForMs: null })).state).toBe('OK');
    const v = evaluateHealth(inputs({ watermarkStillForMs: HEALTH.DATA_STALE_MS }));
    expect(v.reasons).toEqual(['DATA_STALE']);
    expect(v.detail).toContain('10 s');
  });
});

describe('rate meter', () => {
  it('counts the trailing 60 whole seconds and forgets older ones', () => {
    const m = new RateMeter(60);
    for (let s = 0; s < 90; s++) m.add(T0 + s * 1000 + 10, 2);
    // At second 90 (partial), the window holds seconds 30..89: 60 s × 2.
    expect(m.total(T0 + 90_500)).toBe(120);
    expect(m.perSecond(T0 + 90_500)).toBe(2);
    expect(m.perMinute(T0 + 90_500)).toBe(120);
    expect(m.total(T0 + 200_000)).toBe(0);
  });
});
