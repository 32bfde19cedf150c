/** Health state machine (SPEC §8.4) and the trailing-60 s rate meter. */
import { describe, expect, it } from 'vitest';
import { evaluateHealth, type HealthInputs, RateMeter } from '../src/collector/health';

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
    ...over,
  };
}

describe('health verdict', () => {
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
