/**
 * The collector's pure parts: the stage machine, what each note becomes in console / log / audit,
 * health application, the backoff value, the WebSocket state transitions and the Binance market
 * protocol (stream names, SUBSCRIBE batching, control replies).
 */
import { describe, expect, it } from 'vitest';
import { classifyMarketFrame, MARKET_ROUTE, marketProtocol } from '../src/binance/market-protocol';
import { marketStreams, silenceLimitMs } from '../src/binance/streams';
import { Backoff, backoffDelayMs } from '../src/collector/backoff';
import { applyVerdict } from '../src/collector/health';
import { OI_PENALTY } from '../src/collector/oi-poller';
import { type Note, renderNote, Reporter } from '../src/collector/report';
import { nextStage, type StageInput } from '../src/collector/stage';
import { DEFAULT_RECONNECT, WS_TRANSITIONS, wsTransitionAllowed } from '../src/collector/ws-session';
import { ManualClock } from '../src/clock/manual';
import type { AuditRecord, AuditTrail } from '../src/collector/audit';
import type { Logger } from '../src/collector/log';
import { defaultOps } from '../src/core/system-state';
import { type StageName, StageNameSchema, WsStateSchema } from '../src/core/contracts/vocabulary';

const commit = (over: Partial<Extract<StageInput, { kind: 'commit' }>> = {}): StageInput => ({
  kind: 'commit',
  health: 'STARTING',
  reasons: [],
  healthChanged: false,
  allWarm: false,
  ...over,
});

describe('stage machine', () => {
  it('walks startup BOOT → SYMBOL_SELECT → CONNECT_STREAMS → WARMUP, each step from its own stage only', () => {
    expect(nextStage('BOOT', { kind: 'start' })).toEqual({ stage: 'SYMBOL_SELECT', detail: 'fetching exchangeInfo and the 24h ticker' });
    expect(nextStage('SYMBOL_SELECT', { kind: 'symbols_selected', symbols: 10 })).toEqual({ stage: 'CONNECT_STREAMS', detail: '10 symbols' });
    expect(nextStage('CONNECT_STREAMS', { kind: 'streams_started' })).toEqual({
      stage: 'WARMUP',
      detail: 'baselines need 60 non-empty 1 s windows per symbol',
    });
    expect(nextStage('WARMUP', { kind: 'start' })).toBeNull();
    expect(nextStage('BOOT', { kind: 'symbols_selected', symbols: 10 })).toBeNull();
    expect(nextStage('OBSERVE', { kind: 'streams_started' })).toBeNull();
  });

  it('with the boot doctor: BOOT → DOCTOR_CHECKS → SYMBOL_SELECT, saying whether checks failed', () => {
    expect(nextStage('BOOT', { kind: 'start', doctor: true })?.stage).toBe('DOCTOR_CHECKS');
    expect(nextStage('DOCTOR_CHECKS', { kind: 'doctor_done', failed: 0 })).toEqual({
      stage: 'SYMBOL_SELECT',
      detail: 'fetching exchangeInfo and the 24h ticker (doctor: all checks passed)',
    });
    expect(nextStage('DOCTOR_CHECKS', { kind: 'doctor_done', failed: 2 })?.detail).toContain('2 failed');
    expect(nextStage('SYMBOL_SELECT', { kind: 'doctor_done', failed: 0 })).toBeNull();
    expect(nextStage('DOCTOR_CHECKS', { kind: 'stop' })?.stage).toBe('SHUTDOWN');
  });

  it('commits: WARMUP → OBSERVE once every baseline is warm; a health change moves OBSERVE/WARMUP ⇄ DEGRADED', () => {
    expect(nextStage('WARMUP', commit({ allWarm: false }))).toBeNull();
    expect(nextStage('WARMUP', commit({ allWarm: true }))).toEqual({ stage: 'OBSERVE', detail: 'all baselines warm' });
    const degraded = commit({ health: 'DEGRADED', reasons: ['NO_TRADES', 'OI_STALE'], healthChanged: true });
    expect(nextStage('OBSERVE', degraded)).toEqual({ stage: 'DEGRADED', detail: 'NO_TRADES, OI_STALE' });
    expect(nextStage('WARMUP', { ...degraded, allWarm: true } as StageInput)).toEqual({ stage: 'DEGRADED', detail: 'NO_TRADES, OI_STALE' });
    // Only a change acts: the same DEGRADED verdict again does not move the stage.
    expect(nextStage('OBSERVE', commit({ health: 'DEGRADED', reasons: ['NO_TRADES'], healthChanged: false }))).toBeNull();
    // Before WARMUP health does not move the stage.
    expect(nextStage('CONNECT_STREAMS', degraded)).toBeNull();
    expect(nextStage('DEGRADED', commit({ health: 'OK', healthChanged: true, allWarm: true }))).toEqual({ stage: 'OBSERVE', detail: 'recovered' });
    expect(nextStage('DEGRADED', commit({ health: 'OK', healthChanged: true, allWarm: false }))).toEqual({ stage: 'WARMUP', detail: 'recovered' });
    // STARTING or FAILED do not recover a DEGRADED stage; only OK does.
    expect(nextStage('DEGRADED', commit({ health: 'STARTING', healthChanged: true, allWarm: true }))).toBeNull();
    expect(nextStage('OBSERVE', commit({ health: 'FAILED', reasons: ['SYMBOL_LEAK'], healthChanged: true }))).toBeNull();
  });

  it('a stop ends in SHUTDOWN from any stage, and nothing leaves SHUTDOWN', () => {
    for (const stage of StageNameSchema.options.filter((s) => s !== 'SHUTDOWN')) {
      expect(nextStage(stage, { kind: 'stop' })).toEqual({ stage: 'SHUTDOWN', detail: 'stop requested' });
    }
    const inputs: StageInput[] = [{ kind: 'start' }, { kind: 'stop' }, commit({ allWarm: true, health: 'OK', healthChanged: true })];
    for (const i of inputs) expect(nextStage('SHUTDOWN' as StageName, i)).toBeNull();
  });
});

describe('reporting: one note, three outputs', () => {
  it('a stage change is a console line, an info log and a STAGE_CHANGED audit record', () => {
    expect(renderNote({ kind: 'stage', stage: 'WARMUP', detail: 'x' })).toEqual({
      console: ['stage WARMUP — x'],
      log: { level: 'info', fields: { stage: 'WARMUP', detail: 'x' }, msg: 'stage changed' },
      audit: { event_type: 'STAGE_CHANGED', payload: { stage: 'WARMUP', detail: 'x' } },
    });
  });

  it('health severity follows the state; a fatal error raises a CRIT alert', () => {
    const h = (state: 'OK' | 'DEGRADED' | 'FAILED'): AuditRecord | null => renderNote({ kind: 'health', state, reasons: ['NO_TRADES'], detail: 'd' }).audit;
    expect([h('OK')?.severity, h('DEGRADED')?.severity, h('FAILED')?.severity]).toEqual(['INFO', 'WARN', 'CRIT']);
    expect(renderNote({ kind: 'health', state: 'DEGRADED', reasons: ['NO_TRADES', 'OI_STALE'], detail: 'why' }).console).toEqual([
      'health DEGRADED (NO_TRADES, OI_STALE) — why',
    ]);
    const f = renderNote({ kind: 'fatal', reason: 'SYMBOL_LEAK', detail: 'broken' });
    expect(f.log?.level).toBe('fatal');
    expect(f.audit).toEqual({ event_type: 'ALERT_RAISED', severity: 'CRIT', reasons: ['SYMBOL_LEAK'], payload: { detail: 'broken' } });
    expect(f.console).toEqual(['FAILED (SYMBOL_LEAK): broken']);
  });

  it('repeated failures are logged every time, told on the console or audited only the first time and every 10th / 50th', () => {
    const attempt = (n: number): Note => ({ kind: 'symbols_attempt_failed', what: 'exchangeInfo', attempt: n, delayMs: 1000, message: 'm', summary: 's' });
    const told = [1, 2, 9, 10, 11, 20].map((n) => renderNote(attempt(n)).console.length);
    expect(told).toEqual([1, 0, 0, 1, 0, 1]);
    expect(renderNote(attempt(2)).log?.level).toBe('warn');
    const oi = (errors: number): Note => ({ kind: 'oi_failed', symbol: 'BTCUSDT', errorKind: 'server', status: 503, message: 'm', errors });
    expect([1, 2, 49, 50, 100].map((n) => renderNote(oi(n)).audit !== null)).toEqual([true, false, false, true, true]);
    expect(renderNote(oi(2)).log?.fields).toEqual({ symbol: 'BTCUSDT', kind: 'server', status: 503, err: 'm' });
  });

  it('the market stream tells the console and audit about connects and drops, the log about every state', () => {
    const ws = (state: 'OPEN' | 'RECONNECTING' | 'CLOSED'): ReturnType<typeof renderNote> =>
      renderNote({ kind: 'ws_state', state, detail: 'closed (code 1006); retry in 1000 ms', url: 'ws://x/market/stream', streams: 21 });
    expect(ws('OPEN').console).toEqual(['market stream connected (21 streams)']);
    expect(ws('OPEN').audit).toEqual({ event_type: 'WS_CONNECTED', payload: { url: 'ws://x/market/stream' } });
    expect(ws('RECONNECTING').audit?.reasons).toEqual(['WS_RECONNECTING']);
    expect(ws('CLOSED')).toMatchObject({ console: [], audit: null, log: { level: 'info', msg: 'market stream state' } });
  });

  it('Reporter fans one note out to all three, the console line stamped with the clock', () => {
    const clock = new ManualClock(new Date(2026, 0, 6, 9, 5, 7).getTime());
    const lines: string[] = [];
    const logged: [string, unknown, string][] = [];
    const audited: AuditRecord[] = [];
    const logger = {
      info: (o: unknown, m: string) => logged.push(['info', o, m]),
      warn: (o: unknown, m: string) => logged.push(['warn', o, m]),
      error: (o: unknown, m: string) => logged.push(['error', o, m]),
      fatal: (o: unknown, m: string) => logged.push(['fatal', o, m]),
    } as unknown as Logger;
    const audit = { record: (r: AuditRecord) => audited.push(r) } as unknown as AuditTrail;
    new Reporter({ clock, logger, audit, console: (l) => lines.push(l) }).report({ kind: 'stage', stage: 'OBSERVE', detail: 'all baselines warm' });
    expect(lines).toEqual(['[09:05:07] stage OBSERVE — all baselines warm']);
    expect(logged).toEqual([['info', { stage: 'OBSERVE', detail: 'all baselines warm' }, 'stage changed']]);
    expect(audited).toEqual([{ event_type: 'STAGE_CHANGED', payload: { stage: 'OBSERVE', detail: 'all baselines warm' } }]);
  });
});

describe('health application', () => {
  it('writes every verdict, and reports a change of state or reasons — not of detail alone', () => {
    const ops = defaultOps('r', 'DEMO');
    expect(applyVerdict(ops, { state: 'STARTING', reasons: [], detail: '' })).toBe(false);
    expect(applyVerdict(ops, { state: 'DEGRADED', reasons: ['NO_TRADES'], detail: 'no trade for 6 s' })).toBe(true);
    expect(applyVerdict(ops, { state: 'DEGRADED', reasons: ['NO_TRADES'], detail: 'no trade for 7 s' })).toBe(false);
    expect(ops.health_detail).toBe('no trade for 7 s');
    expect(applyVerdict(ops, { state: 'DEGRADED', reasons: ['NO_TRADES', 'OI_STALE'], detail: 'x' })).toBe(true);
    expect(applyVerdict(ops, { state: 'OK', reasons: [], detail: '' })).toBe(true);
    expect(ops).toMatchObject({ health_state: 'OK', health_reasons: [], health_detail: '' });
  });
});

describe('backoff value', () => {
  it('doubles to the cap with the jitter band applied, and resets', () => {
    let b = Backoff.start(DEFAULT_RECONNECT);
    const delays: number[] = [];
    for (let i = 0; i < 7; i++) {
      const n = b.next(0.5);
      delays.push(n.delayMs);
      b = n.backoff;
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
    expect(b.attempt).toBe(7);
    expect(b.reset().next(0.5).delayMs).toBe(1000);
    // ±20 % at the ends of the random range; ±10 % for the OI penalty.
    expect(Backoff.start(DEFAULT_RECONNECT).next(0).delayMs).toBe(800);
    expect(Backoff.start(DEFAULT_RECONNECT).next(0.999_999).delayMs).toBe(1200);
    expect(backoffDelayMs(OI_PENALTY, 1, 0)).toBe(4500);
    expect(backoffDelayMs(OI_PENALTY, 7, 0.5)).toBe(300_000);
    // A very long outage stays at the cap (no overflow to Infinity or NaN).
    expect(backoffDelayMs(DEFAULT_RECONNECT, 10_000, 0.5)).toBe(30_000);
    // Immutable: the start value is unchanged by next().
    const s = Backoff.start(DEFAULT_RECONNECT);
    s.next(0.5);
    expect(s.attempt).toBe(0);
  });
});

describe('WebSocket connection states', () => {
  it('allow exactly the transitions the session makes', () => {
    const allowed = WsStateSchema.options.flatMap((from) => WsStateSchema.options.filter((to) => wsTransitionAllowed(from, to)).map((to) => `${from}→${to}`));
    expect(allowed).toEqual([
      'IDLE→CONNECTING',
      'IDLE→CLOSED',
      'CONNECTING→OPEN',
      'CONNECTING→RECONNECTING',
      'CONNECTING→CLOSED',
      'OPEN→RECONNECTING',
      'OPEN→CLOSED',
      'RECONNECTING→OPEN',
      'RECONNECTING→CLOSED',
      'CLOSED→CONNECTING',
      'CLOSED→RECONNECTING',
    ]);
    expect(Object.keys(WS_TRANSITIONS).sort()).toEqual([...WsStateSchema.options].sort());
  });
});

describe('Binance market protocol', () => {
  it('names the streams of the one /market connection and their silence limits', () => {
    expect(marketStreams(['BTCUSDT', 'ETHUSDT'], true)).toEqual([
      'btcusdt@aggTrade',
      'ethusdt@aggTrade',
      '!forceOrder@arr',
      'btcusdt@markPrice@1s',
      'ethusdt@markPrice@1s',
    ]);
    expect(marketStreams(['BTCUSDT'], false)).toEqual(['btcusdt@aggTrade', '!forceOrder@arr']);
    expect([silenceLimitMs('btcusdt@markPrice@1s'), silenceLimitMs('btcusdt@aggTrade'), silenceLimitMs('!forceOrder@arr')]).toEqual([
      5000,
      60_000,
      Number.POSITIVE_INFINITY,
    ]);
  });

  it('subscribes in batches of 50 with increasing ids on the /market route, and asks again for silent streams in one message', () => {
    const streams = Array.from({ length: 120 }, (_, i) => `s${i}usdt@aggTrade`);
    const p = marketProtocol({ wsUrl: 'wss://fstream.binance.com/', streams });
    expect(p.url).toBe(`wss://fstream.binance.com${MARKET_ROUTE}`);
    expect(p.source).toBe('ws:/market/stream');
    expect(p.controlGapMs).toBe(250);
    const msgs = p.subscribeMessages().map((m) => JSON.parse(m) as { method: string; params: string[]; id: number });
    expect(msgs.map((m) => [m.method, m.params.length, m.id])).toEqual([
      ['SUBSCRIBE', 50, 1],
      ['SUBSCRIBE', 50, 2],
      ['SUBSCRIBE', 20, 3],
    ]);
    expect(msgs.flatMap((m) => m.params)).toEqual(streams);
    expect(p.resubscribeMessages(['s7usdt@aggTrade', 's9usdt@aggTrade']).map((m) => JSON.parse(m) as unknown)).toEqual([
      { method: 'SUBSCRIBE', params: ['s7usdt@aggTrade', 's9usdt@aggTrade'], id: 4 },
    ]);
  });

  it('tells control replies from data, and reads the stream name data frames start with', () => {
    expect(classifyMarketFrame('{"result":null,"id":1}')).toEqual({ kind: 'control' });
    expect(classifyMarketFrame('{"id":2,"result":["a"]}')).toEqual({ kind: 'control' });
    expect(classifyMarketFrame('{"code":2,"msg":"Invalid request","id":null}')).toEqual({ kind: 'control' });
    expect(classifyMarketFrame('{"stream":"btcusdt@aggTrade","data":{}}')).toEqual({ kind: 'data', stream: 'btcusdt@aggTrade' });
    expect(classifyMarketFrame('{"stream":"btc')).toEqual({ kind: 'data', stream: null });
    expect(classifyMarketFrame('garbage')).toEqual({ kind: 'data', stream: null });
  });
});
