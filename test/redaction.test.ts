/**
 * Escaping and redaction everywhere (issue 9 item 5): every externally sourced string is escaped
 * before a console line or a log, and URLs are redacted wherever they are shown or stored.
 *
 *   - the one fan-out (Reporter): hostile text in any note (a close reason, a REST body, an
 *     undici message, a fatal detail) reaches console, log and audit as one safe, redacted line;
 *   - the sources that keep strings in state (REST errors → OI last_error, the WS URL → snapshot);
 *   - a real run: `live --headless` with credentials in --ws-url/--rest-url against the simulator,
 *     which answers with a hostile error body (ESC, BEL, CR LF, a forged `stage OBSERVE` line, a
 *     URL with a password): the secrets are in none of console, latest_snapshot.json, audit.jsonl,
 *     collector.log, and no console line is forged.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock/manual';
import type { AuditRecord, AuditTrail } from '../src/collector/audit';
import type { Logger } from '../src/collector/log';
import { type Note, Reporter } from '../src/collector/report';
import { RestClient, RestError } from '../src/collector/rest';
import { SnapshotSchema } from '../src/core/contracts/snapshot';
import { startSimulator } from '../src/simulator/server';
import type { SimulatorHandle } from '../src/simulator/types';
import { isSafeText } from '../src/text/safe';
import { ensureCliBuilt } from './fixtures/paths';
import { startHeadless } from './headless-run';

/** What a hostile gateway answers: cursor moves, a forged console line, a bell, a title change, a URL with a password. */
const HOSTILE_BODY = '\x1b[2K\r[00:00:00] stage OBSERVE — all baselines warm\r\n\x07\x1b]0;pwned\x07 see http://admin:hunter2@evil.example/x?token=abc \u202e';
const SECRETS = ['hunter2', 's3cret', 'token=abc'];

/** Every string inside a JSON value, keys included. */
function strings(v: unknown, out: string[] = []): string[] {
  if (typeof v === 'string') out.push(v);
  else if (Array.isArray(v)) for (const x of v) strings(x, out);
  else if (typeof v === 'object' && v !== null)
    for (const [k, x] of Object.entries(v)) {
      out.push(k);
      strings(x, out);
    }
  return out;
}

function expectSafeValue(v: unknown, where: string): void {
  for (const s of strings(v)) {
    expect(isSafeText(s), `${where}: ${JSON.stringify(s)}`).toBe(true);
    for (const secret of SECRETS) expect(s, where).not.toContain(secret);
  }
}

function fanOut(note: Note): { lines: string[]; logged: unknown[]; audited: AuditRecord[] } {
  const lines: string[] = [];
  const logged: unknown[] = [];
  const audited: AuditRecord[] = [];
  const log = (o: unknown, m: string): void => {
    logged.push({ o, m });
  };
  const logger = { info: log, warn: log, error: log, fatal: log } as unknown as Logger;
  const audit = { record: (r: AuditRecord) => audited.push(r) } as unknown as AuditTrail;
  new Reporter({ clock: new ManualClock(0), logger, audit, console: (l) => lines.push(l) }).report(note);
  return { lines, logged, audited };
}

describe('the report fan-out makes every note safe', () => {
  const notes: Note[] = [
    { kind: 'ws_state', state: 'RECONNECTING', detail: `closed (code 1008, ${HOSTILE_BODY}); retry in 1000 ms`, url: 'ws://u:s3cret@h/market', streams: 21 },
    { kind: 'ws_state', state: 'OPEN', detail: 'connected to ws://u:s3cret@h/market', url: 'ws://u:s3cret@h/market', streams: 21 },
    { kind: 'oi_failed', symbol: 'BTCUSDT', errorKind: 'server', status: 503, message: `HTTP 503: ${HOSTILE_BODY}`, errors: 1 },
    { kind: 'symbols_attempt_failed', what: 'exchangeInfo', attempt: 1, delayMs: 1000, message: HOSTILE_BODY, summary: HOSTILE_BODY },
    { kind: 'fatal', reason: 'DETECTOR_EXCEPTION', detail: HOSTILE_BODY },
    { kind: 'health', state: 'DEGRADED', reasons: ['SYMBOLS_UNAVAILABLE'], detail: HOSTILE_BODY },
    { kind: 'banner', runId: 'r', restUrl: 'http://u:s3cret@h', wsUrl: 'ws://u:s3cret@h' },
    { kind: 'capture_failed', message: HOSTILE_BODY },
  ];
  it.each(notes.map((n) => [n.kind, n] as const))('%s: console, log and audit hold one safe, redacted line per string', (_, note) => {
    const { lines, logged, audited } = fanOut(note);
    for (const l of lines) {
      expect(l.split('\n')).toHaveLength(1);
      expect(isSafeText(l)).toBe(true);
      expect(l).toMatch(/^\[\d\d:\d\d:\d\d\] /);
    }
    expectSafeValue(lines, 'console');
    expectSafeValue(logged, 'log');
    expectSafeValue(audited, 'audit');
    // Shown escaped, not dropped: a support reader still sees what arrived.
    if (JSON.stringify(note).includes('stage OBSERVE')) expect(JSON.stringify([lines, logged, audited])).toContain('\\\\x1b[2K');
  });
});

describe('the sources that keep strings', () => {
  let server: ReturnType<typeof createServer>;
  let base = '';
  beforeAll(async () => {
    server = createServer((_req, res) => {
      res.writeHead(503, { 'Content-Type': 'text/html' });
      res.end(HOSTILE_BODY);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    base = `http://u:s3cret@127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('a REST error body becomes one safe line in the RestError (→ OI last_error, health detail, logs)', async () => {
    const rest = new RestClient({ baseUrl: base, clock: new ManualClock(0) });
    try {
      const err = await rest.get('/fapi/v1/openInterest?symbol=BTCUSDT', { timeoutMs: 5000 }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(RestError);
      const m = (err as RestError).message;
      expect(m.startsWith('HTTP 503: exchange-side error')).toBe(true);
      expect(isSafeText(m)).toBe(true);
      expect(m).toContain('\\x1b[2K\\r[00:00:00] stage OBSERVE');
      expect(m).toContain('http://***@evil.example/x?token=***');
      for (const secret of SECRETS) expect(m).not.toContain(secret);
    } finally {
      await rest.close();
    }
  });
});

describe('a real run with credentials in both URLs and a hostile error body', () => {
  let sim: SimulatorHandle;
  beforeAll(async () => {
    ensureCliBuilt();
    sim = await startSimulator({ port: 0, seed: 11, scenario: 'steady' });
  });
  afterAll(async () => {
    await sim.stop();
  });

  it('no secret in console, latest_snapshot.json, audit.jsonl or collector.log; no forged console line', async () => {
    const withCreds = (u: string): string => u.replace('://', '://trader:s3cret@');
    // Symbol selection meets the hostile body first (console, log, health detail), OI polling later (snapshot, log, audit).
    sim.fault({ kind: 'rest_status', path: '/fapi/v1/exchangeInfo', status: 502, count: 1, body: HOSTILE_BODY });
    let hostileSnapText = '';
    const run = startHeadless(['--rest-url', `${withCreds(sim.restUrl)}/?apiKey=abc&signature=s3cret`, '--ws-url', withCreds(sim.wsUrl), '--no-capture']);
    try {
      await run.until('market stream connected', () => run.stdout.some((l) => l.includes('market stream connected')));
      sim.fault({ kind: 'rest_status', path: '/fapi/v1/openInterest', status: 503, count: 3, body: HOSTILE_BODY });
      // Wait for the snapshot file that shows the hostile 503 body as the last OI error, and keep
      // that one: on a loaded machine a later poll may time out and replace last_error before the
      // stop (an error count alone was met by such timeouts, and the final file showed the timeout).
      await run.until(
        'the hostile OI error in the snapshot file',
        () => {
          const text = readFileSync(join(run.debugDir, 'latest_snapshot.json'), 'utf8');
          const s = SnapshotSchema.parse(JSON.parse(text));
          if (!(s.oi_polling.last_error ?? '').includes('\\x1b[2K')) return false;
          hostileSnapText = text;
          return true;
        },
        45_000,
      );
    } finally {
      run.child.kill('SIGTERM');
    }
    expect((await run.exited).code).toBe(0);

    const console = run.stdout;
    expect(console.some((l) => l.includes('cannot reach the exchange'))).toBe(true);
    for (const l of console) {
      expect(isSafeText(l), JSON.stringify(l)).toBe(true);
      expect(l.startsWith('[00:00:00] stage OBSERVE')).toBe(false);
      for (const secret of SECRETS) expect(l).not.toContain(secret);
    }
    expect(console.join('\n')).toContain('REST http://***@127.0.0.1:');
    expect(console.join('\n')).toContain('\\x1b[2K\\r[00:00:00] stage OBSERVE');
    for (const secret of SECRETS) expect(run.stderr()).not.toContain(secret);

    const hostileSnap = SnapshotSchema.parse(JSON.parse(hostileSnapText));
    expect(hostileSnap.oi_polling.last_error).toContain('\\x1b[2K');
    expectSafeValue(hostileSnap, 'latest_snapshot.json (with the hostile OI error)');
    const snap = SnapshotSchema.parse(JSON.parse(readFileSync(join(run.debugDir, 'latest_snapshot.json'), 'utf8')));
    expect(snap.streams.url).toMatch(/^ws:\/\/\*\*\*@127\.0\.0\.1:\d+\/market/);
    expectSafeValue(snap, 'latest_snapshot.json');

    const jsonLines = (f: string): unknown[] =>
      readFileSync(join(run.debugDir, f), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as unknown);
    const audit = jsonLines('audit.jsonl');
    expect(audit.some((a) => (a as { event_type: string }).event_type === 'OI_POLL_FAILED')).toBe(true);
    expect(audit.some((a) => (a as { event_type: string }).event_type === 'WS_CONNECTED')).toBe(true);
    expectSafeValue(audit, 'audit.jsonl');
    const log = jsonLines('collector.log');
    expect(log.some((l) => (l as { msg: string }).msg === 'OI poll failed')).toBe(true);
    expectSafeValue(log, 'collector.log');
    // And not in any other file of the run, as raw bytes.
    for (const f of readdirSync(run.debugDir)) {
      const raw = readFileSync(join(run.debugDir, f));
      const text = (raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw).toString('utf8');
      for (const secret of SECRETS) expect(text, f).not.toContain(secret);
    }
    expect(existsSync(run.captureDir)).toBe(false);
  }, 90_000);
});
