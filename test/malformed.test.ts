/**
 * Malformed and excluded input: every bad frame is counted with a useful reason, nothing throws,
 * and the next good frame is still processed. Non-MARKET raw trades and COIN-M liquidations are
 * excluded by rule and counted. Dead letters are written as JSONL.
 */
import { mkdtempSync, readFileSync, existsSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DeadLetterFile } from '../src/capture/dead-letter';
import { formatCaptureHeader, formatCaptureLine } from '../src/capture/format';
import { LIMITS } from '../src/core/constants';
import { CanonicalEventSchema } from '../src/core/contracts/canonical';
import { binanceUsdm } from '../src/binance/adapter';
import { normalizeFrame } from '../src/binance/normalize';
import { Engine } from '../src/core/engine';
import { FramePipeline } from '../src/core/pipeline';
import type { Frame } from '../src/core/source';
import type { ClosedWindow } from '../src/core/symbol-detector';
import { runReplay } from '../src/replay/replay';

type Obj = Record<string, unknown>;

const tmp = mkdtempSync(join(tmpdir(), 'pp-malformed-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The first trade of the vendored BTCUSDT fixture. */
const TRADE: Obj = { e: 'trade', E: 1723161256322, T: 1723161256322, s: 'BTCUSDT', t: 5266583935, p: '61800.30', q: '0.006', X: 'MARKET', m: false };
const RECV = 1723161255088;
const SOURCE = 'ws:/public/stream';

function env(stream: string, data: unknown): string {
  return JSON.stringify({ stream, data });
}
function frame(text: string, source = SOURCE, recv = RECV): Frame {
  return { recv_ms: recv, source, text };
}
function trade(over: Obj, stream = 'btcusdt@trade'): Frame {
  return frame(env(stream, { ...TRADE, ...over }));
}

const LIQ_O: Obj = {
  s: 'BTCUSDT',
  S: 'SELL',
  o: 'LIMIT',
  f: 'IOC',
  q: '0.500',
  p: '61500.00',
  ap: '61610.20',
  X: 'FILLED',
  l: '0.100',
  z: '0.500',
  T: 1723161256400,
};
function forceOrder(o: Obj, top: Obj = {}): Frame {
  return frame(env('!forceOrder@arr', { e: 'forceOrder', E: 1723161256410, o: { ...LIQ_O, ...o }, ...top }), 'ws:/market/stream');
}

const HUGE = '9'.repeat(400);
const TINY = `0.${'0'.repeat(400)}1`;

function padTo(len: number): string {
  const head = env('btcusdt@trade', { ...TRADE, pad: '' });
  const base = head.length;
  return env('btcusdt@trade', { ...TRADE, pad: 'x'.repeat(len - base) });
}

/** [what, frame, expected reason]: every one must come back `malformed`. */
const CASES: readonly [string, Frame, RegExp][] = [
  ['truncated JSON', frame('{"stream":"btcusdt@trade","data":{"e":"trade","E":17231612'), /^invalid_json$/],
  ['truncated after the envelope', frame('{"stream":"btcusdt@trade"'), /^invalid_json$/],
  ['empty frame', frame(''), /^invalid_json$/],
  ['whitespace frame', frame('   '), /^invalid_json$/],
  ['binary garbage', frame('\u0000\u0001\uFFFD{'), /^invalid_json$/],
  ['price as number', trade({ p: 61800.3 }), /^schema_violation:trade: p: /],
  ['m as string', trade({ m: 'false' }), /^schema_violation:trade: m: /],
  ['T as string', trade({ T: '1723161256322' }), /^schema_violation:trade: T: /],
  ['price "NaN"', trade({ p: 'NaN' }), /^schema_violation:trade: p: not a positive decimal string$/],
  ['price "-1"', trade({ p: '-1' }), /^schema_violation:trade: p: not a positive decimal string$/],
  ['price "1e5"', trade({ p: '1e5' }), /^schema_violation:trade: p: not a positive decimal string$/],
  ['price ""', trade({ p: '' }), /^schema_violation:trade: p: not a positive decimal string$/],
  ['price "0"', trade({ p: '0' }), /^schema_violation:trade: p: not a positive decimal string$/],
  ['price null', trade({ p: null }), /^schema_violation:trade: p: /],
  ['negative qty', trade({ q: '-0.006' }), /^schema_violation:trade: q: not a non-negative decimal string$/],
  ['missing id', trade({ t: undefined }), /^schema_violation:trade: t: /],
  ['absurdly long price (Infinity)', trade({ p: HUGE }), /^non_finite_number:TRADE$/],
  ['absurdly long qty (Infinity)', trade({ q: HUGE }), /^non_finite_number:TRADE$/],
  ['absurdly long price and zero qty (NaN notional)', trade({ p: HUGE, q: '0' }), /^non_finite_number:TRADE$/],
  ['price that underflows to 0', trade({ p: TINY }), /^non_positive_number:TRADE$/],
  ['liquidation with absurd average price', forceOrder({ ap: HUGE }), /^non_finite_number:LIQUIDATION$/],
  ['liquidation quantity that underflows to 0', forceOrder({ q: TINY }), /^non_positive_number:LIQUIDATION$/],
  ['unknown event type', frame(env('btcusdt@trade', { ...TRADE, e: 'tradeV2' })), /^unknown_event_type:tradeV2$/],
  ['unknown event type on an unknown stream shape', frame(JSON.stringify({ ...TRADE, e: 'x'.repeat(100) })), /^unknown_event_type:x{40}$/],
  ['oversized ws frame (> 1 MiB)', frame(padTo(LIMITS.MAX_WS_FRAME_BYTES + 1)), /^oversized_frame:1048577$/],
  ['oversized frame of a foreign capture (no source)', frame(padTo(LIMITS.MAX_WS_FRAME_BYTES + 10), ''), /^oversized_frame:1048586$/],
  ['stream/payload symbol mismatch', trade({}, 'ethusdt@trade'), /^stream_symbol_mismatch:ethusdt@trade:BTCUSDT$/],
  [
    'liquidation on another symbol’s stream',
    frame(env('ethusdt@forceOrder', { e: 'forceOrder', E: 1723161256410, o: LIQ_O }), 'ws:/market/stream'),
    /^stream_symbol_mismatch:/,
  ],
  ['non-object JSON: number', frame('42'), /^not_an_object$/],
  ['non-object JSON: string', frame('"trade"'), /^not_an_object$/],
  ['non-object JSON: null', frame('null'), /^not_an_object$/],
  ['non-object JSON: array', frame('[1,2,3]'), /^unexpected_array$/],
  ['envelope with a non-object payload', frame(env('btcusdt@trade', 5)), /^payload_not_an_object$/],
  ['envelope with a null payload', frame(env('btcusdt@trade', null)), /^payload_not_an_object$/],
  ['unknown object', frame('{"hello":"world"}'), /^unknown_payload$/],
  ['forceOrder without o', frame(env('!forceOrder@arr', { e: 'forceOrder', E: 1723161256410 }), 'ws:/market/stream'), /^schema_violation:forceOrder: o: /],
  ['kline with broken k', frame(env('btcusdt@kline_1m', { e: 'kline', E: 1723161256410, s: 'BTCUSDT', k: { t: 1 } })), /^schema_violation:kline: k\./],
  [
    'openInterest with a negative value',
    frame('{"symbol":"BTCUSDT","openInterest":"-5","time":1723161256000}', 'rest:/fapi/v1/openInterest?symbol=BTCUSDT'),
    /^schema_violation:openInterest: openInterest: /,
  ],
];

describe('normalizeFrame on malformed input', () => {
  it.each(CASES)('%s → malformed', (_what, f, reason) => {
    let r: ReturnType<typeof normalizeFrame> | undefined;
    expect(() => {
      r = normalizeFrame(f);
    }).not.toThrow();
    expect(r?.kind).toBe('malformed');
    if (r?.kind === 'malformed') expect(r.reason).toMatch(reason);
  });

  it('a 1 MiB frame is not oversized, and a REST body may be larger than a ws frame', () => {
    expect(normalizeFrame(frame(padTo(LIMITS.MAX_WS_FRAME_BYTES))).kind).toBe('event');
    const big = JSON.stringify({ symbols: [], rateLimits: [], pad: 'x'.repeat(LIMITS.MAX_WS_FRAME_BYTES) });
    expect(normalizeFrame(frame(big, 'rest:/fapi/v1/exchangeInfo'))).toEqual({ kind: 'ignored', what: 'rest:exchangeInfo' });
    expect(normalizeFrame(frame(big, SOURCE))).toMatchObject({ kind: 'malformed', reason: expect.stringMatching(/^oversized_frame:/) });
  });

  it('every event it does return satisfies the canonical contract', () => {
    const good = [trade({}), trade({ q: '0' }), trade({ p: '0.0000001' }), forceOrder({}), forceOrder({ ap: '0', z: '0', l: '0' })];
    for (const f of good) {
      const r = normalizeFrame(f);
      expect(r.kind).toBe('event');
      if (r.kind === 'event') expect(CanonicalEventSchema.safeParse(r.event).error?.issues ?? []).toEqual([]);
    }
  });
});

describe('FramePipeline.ingest keeps going after garbage', () => {
  it('counts each malformed frame once, by reason class, and still counts the valid trade after it', () => {
    const engine = new Engine({ symbols: ['BTCUSDT', 'ETHUSDT'] });
    const pipeline = new FramePipeline(binanceUsdm, engine);
    for (const [, f] of CASES) expect(() => pipeline.ingest(f)).not.toThrow();
    expect(pipeline.counters.malformed_events).toBe(CASES.length);
    expect(pipeline.counters.frames_received).toBe(CASES.length);
    const byClass = pipeline.counters.malformed_by_reason;
    expect(Object.values(byClass).reduce((a, b) => a + b, 0)).toBe(CASES.length);
    expect(Object.keys(byClass).sort()).toEqual([
      'invalid_json',
      'non_finite_number',
      'non_positive_number',
      'not_an_object',
      'oversized_frame',
      'payload_not_an_object',
      'schema_violation',
      'stream_symbol_mismatch',
      'unexpected_array',
      'unknown_event_type',
      'unknown_payload',
    ]);
    expect(byClass.invalid_json).toBe(5);
    const btc = engine.detector('BTCUSDT');
    expect(btc?.counters.trades).toBe(0);
    expect(engine.watermark).toBeNull();

    const r = pipeline.ingest(trade({}));
    expect(r.kind).toBe('event');
    expect(btc?.counters.trades).toBe(1);
    expect(engine.watermark).toBe(TRADE.T);
    expect(pipeline.counters.malformed_events).toBe(CASES.length);
  });
});

describe('non-MARKET raw trades are never flow', () => {
  it('drops INSURANCE_FUND, ADL and NA prints, counts them, and keeps them out of every window', () => {
    const windows: ClosedWindow[] = [];
    const engine = new Engine({ symbols: ['BTCUSDT'], onWindow: (w) => windows.push(w) });
    const pipeline = new FramePipeline(binanceUsdm, engine);
    const t0 = 1723161256100; // window k0 = 1723161256
    const k0 = Math.floor(t0 / 1000);
    const at = (T: number, t: number, X: string, q = '0.010'): Frame => trade({ T, E: T, t, X, q });
    expect(pipeline.ingest(at(t0, 1, 'MARKET')).kind).toBe('event');
    for (const [i, X] of ['INSURANCE_FUND', 'ADL', 'NA'].entries()) {
      // Huge and in the same window: would dominate the flow if it were counted.
      expect(pipeline.ingest(at(t0 + 100 + i, 10 + i, X, '500.000'))).toEqual({ kind: 'dropped', reason: 'non_market_trade', symbol: 'BTCUSDT' });
    }
    // A window holding only non-MARKET prints, far ahead: must neither fill a window nor move time.
    expect(pipeline.ingest(at(t0 + 1000, 20, 'ADL', '500.000')).kind).toBe('dropped');
    expect(engine.watermark).toBe(t0);
    expect(pipeline.ingest(at(t0 + 3500, 30, 'MARKET')).kind).toBe('event');

    const d = engine.detector('BTCUSDT');
    expect(d?.counters.non_market_trades).toBe(4);
    expect(d?.counters.trades).toBe(2);
    expect(engine.counters.symbol_not_allowed).toBe(0);
    const w0 = windows.find((w) => w.window_start_ms === k0 * 1000);
    const w1 = windows.find((w) => w.window_start_ms === (k0 + 1) * 1000);
    expect(w0?.metrics?.trade_count).toBe(1);
    expect(w0?.metrics?.abs_flow).toBeCloseTo(61800.3 * 0.01, 9);
    expect(w1?.outcome).toBe('empty');
    for (const w of windows) expect(w.metrics === null || w.metrics.abs_flow < 1000).toBe(true);
  });

  it('a non-MARKET print of a symbol outside the allow-list counts as symbol_not_allowed', () => {
    const engine = new Engine({ symbols: ['ETHUSDT'] });
    const pipeline = new FramePipeline(binanceUsdm, engine);
    expect(pipeline.ingest(trade({ X: 'INSURANCE_FUND' })).kind).toBe('dropped');
    expect(engine.counters.symbol_not_allowed).toBe(1);
    expect(engine.detector('ETHUSDT')?.counters.non_market_trades).toBe(0);
  });
});

describe('forceOrder and the COIN-M universe (st)', () => {
  it('drops st=2 (COIN-M) as symbol_not_allowed and accepts st=1 or no st', () => {
    const engine = new Engine({ symbols: ['BTCUSDT', 'ETHUSDT'] });
    const pipeline = new FramePipeline(binanceUsdm, engine);
    // COIN-M perpetual and delivery symbols as the merged !forceOrder@arr carries them since 2026-06-30.
    for (const [s, ps] of [
      ['BTCUSD_PERP', 'BTCUSD'],
      ['ETHUSD_260925', 'ETHUSD'],
      ['BTCUSDT', 'BTCUSDT'],
    ] as const) {
      const r = pipeline.ingest(forceOrder({ s }, { st: 2, ps }));
      expect(r, s).toEqual({ kind: 'dropped', reason: 'coin_margined', symbol: s });
    }
    expect(engine.counters.symbol_not_allowed).toBe(3);
    expect(pipeline.counters.malformed_events).toBe(0);
    expect(engine.detector('BTCUSDT')?.counters.liquidations).toBe(0);

    expect(pipeline.ingest(forceOrder({}, { st: 1, ps: 'BTCUSDT' })).kind).toBe('event');
    expect(pipeline.ingest(forceOrder({ s: 'ETHUSDT', p: '2500.10', ap: '2501.00' })).kind).toBe('event');
    expect(engine.detector('BTCUSDT')?.counters.liquidations).toBe(1);
    expect(engine.detector('ETHUSDT')?.counters.liquidations).toBe(1);
    // Accepted but not in the allow-list.
    expect(pipeline.ingest(forceOrder({ s: 'SOLUSDT', p: '150.00', ap: '150.10' }, { st: 1 })).kind).toBe('event');
    expect(engine.counters.symbol_not_allowed).toBe(4);
    expect(pipeline.counters.malformed_events).toBe(0);
  });
});

describe('dead letters', () => {
  it('DeadLetterFile writes one JSONL line per letter with reason, source, recv_ms and raw cut to 2048 chars', async () => {
    const path = join(tmp, 'dl', 'direct.jsonl');
    const dl = new DeadLetterFile(path);
    expect(existsSync(path)).toBe(false); // opened lazily: a clean run leaves no file
    const long = `{"x":"${'y'.repeat(5000)}"}`;
    dl.write({ recv_ms: 1723161255088, source: 'ws:/market/stream', reason: 'invalid_json', raw: long });
    dl.write({ recv_ms: 7, source: 'rest:/fapi/v1/openInterest?symbol=BTCUSDT', reason: 'schema_violation:openInterest: time: x', raw: 'short\nwith newline' });
    // Written off the caller's path: on disk once flushed.
    expect(dl.written).toBe(0);
    await dl.flush();
    expect(dl.written).toBe(2);
    expect(dl.failed).toBe(0);
    const lines = readFileSync(path, 'utf8').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(2);
    const [a, b] = lines.map((l) => JSON.parse(l) as Obj);
    expect(a).toEqual({
      recv_ms: 1723161255088,
      source: 'ws:/market/stream',
      reason: 'invalid_json',
      raw_length: long.length,
      raw: long.slice(0, LIMITS.DEAD_LETTER_RAW_CHARS),
    });
    expect((a?.raw as string).length).toBe(2048);
    expect(b).toMatchObject({ recv_ms: 7, reason: 'schema_violation:openInterest: time: x', raw: 'short\nwith newline', raw_length: 18 });
  });

  it('a failing path is counted, not thrown', async () => {
    const blocker = join(tmp, 'not-a-dir');
    writeFileSync(blocker, '');
    const dl = new DeadLetterFile(join(blocker, 'sub', 'x.jsonl'));
    expect(() => dl.write({ recv_ms: 1, source: '', reason: 'r', raw: 'x' })).not.toThrow();
    await dl.flush();
    expect(dl.failed).toBe(1);
    expect(dl.lastError).toContain('is not a directory');
    expect(dl.written).toBe(0);
  });

  it('runReplay writes dead letters for garbage capture lines and malformed frames, and keeps replaying', async () => {
    const capture = join(tmp, 'garbage.capture');
    const tr = (T: number, t: number): string =>
      formatCaptureLine({ recv_ms: T - 1200, source: 'ws:/public/stream', text: env('btcusdt@trade', { ...TRADE, T, E: T, t }) });
    writeFileSync(
      capture,
      [
        formatCaptureHeader({ run_id: 'test', symbols: ['BTCUSDT'], started_ms: 1723161255000 }),
        tr(1723161256100, 1),
        'this is not a capture line',
        formatCaptureLine({ recv_ms: 1723161255300, source: 'ws:/public/stream', text: '{"stream":"btcusdt@trade","data":{"e":"tr' }),
        formatCaptureLine({ recv_ms: 1723161255400, source: 'ws:/public/stream', text: 'line one\nline two' }),
        tr(1723161257100, 2),
        tr(1723161259100, 3),
        '',
      ].join('\n'),
    );
    const dlPath = join(tmp, 'replay-dead.jsonl');
    const dl = new DeadLetterFile(dlPath);
    const { summary } = await runReplay({ files: [capture], deadLetters: dl });
    expect(summary.symbols).toEqual(['BTCUSDT']);
    expect(summary.symbols_from).toBe('capture_header');
    expect(summary.bad_lines).toBe(1);
    expect(summary.frames).toBe(5);
    expect(summary.counters.malformed_events).toBe(3);
    expect(summary.malformed_by_reason).toEqual({ capture_line: 1, invalid_json: 2 });
    expect(summary.per_symbol.BTCUSDT?.trades).toBe(3);
    expect(summary.partition_holds).toBe(true);

    const letters = readFileSync(dlPath, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Obj);
    expect(letters).toHaveLength(3);
    expect(letters[0]).toMatchObject({ recv_ms: 0, source: `capture:${capture}:3`, reason: 'unrecognised_line_format', raw: 'this is not a capture line' });
    expect(letters[1]).toMatchObject({
      recv_ms: 1723161255300,
      source: 'ws:/public/stream',
      reason: 'invalid_json',
      raw: '{"stream":"btcusdt@trade","data":{"e":"tr',
    });
    expect(letters[2]).toMatchObject({ recv_ms: 1723161255400, source: 'ws:/public/stream', reason: 'invalid_json', raw: 'line one\nline two' });
    expect(dl.written).toBe(3);
  });
});
