/**
 * Reads from outside are bounded before they are buffered (issue 9, the class of rest.ts reading a
 * whole body before its 16 MiB check): a hostile server or file never decides how much memory one
 * answer, message or file costs.
 *
 *   - REST: an endless 200 body is cut at MAX_REST_BODY_BYTES and refused (too_large); a declared
 *     Content-Length beyond it is refused unread; an endless error body is read to 64 KiB only;
 *   - WebSocket: one message beyond MAX_WS_MESSAGE_BYTES is refused by the socket (counted as
 *     oversized, the connection closes and is reopened), whatever size the server sends;
 *   - files: a config file or a left-over snapshot that is /dev/zero or huge stops at its cap.
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { ManualClock } from '../src/clock/manual';
import { ConfigError, loadConfig, MAX_CONFIG_FILE_BYTES } from '../src/collector/config';
import { RestClient, RestError } from '../src/collector/rest';
import { markUncleanEnd } from '../src/collector/snapshot-file';
import { WsSession } from '../src/collector/ws-session';
import { LIMITS } from '../src/core/constants';
import { readTextBounded, TooLargeError } from '../src/files/bounded-read';
import { eventually } from './collector-harness';

let server: Server | null = null;
afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = null;
});

/** A server that keeps writing `chunk` (with backpressure) until the client goes away; counts what it sent. */
async function endless(status: number, headers: Record<string, string> = {}): Promise<{ base: string; sent: () => number }> {
  let sent = 0;
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  server = createServer((_req, res) => {
    res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
    const pump = (): void => {
      while (!res.destroyed && res.write(chunk)) sent += chunk.length;
      if (!res.destroyed) res.once('drain', pump);
    };
    res.on('close', () => undefined);
    pump();
  });
  await new Promise<void>((r) => (server as Server).listen(0, '127.0.0.1', () => r()));
  return { base: `http://127.0.0.1:${((server as Server).address() as AddressInfo).port}`, sent: () => sent };
}

async function failure(rest: RestClient): Promise<RestError> {
  const e = await rest.get('/fapi/v1/exchangeInfo', { timeoutMs: 30_000 }).then(
    () => null,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(RestError);
  return e as RestError;
}

describe('REST bodies', () => {
  it('an endless 200 body: refused as too_large once MAX_REST_BODY_BYTES is passed, without reading on', async () => {
    const srv = await endless(200);
    const rest = new RestClient({ baseUrl: srv.base, clock: new ManualClock(0) });
    const heapBefore = process.memoryUsage().heapUsed;
    try {
      const e = await failure(rest);
      expect(e.kind).toBe('too_large');
      expect(e.message).toContain(`larger than ${LIMITS.MAX_REST_BODY_BYTES} bytes`);
    } finally {
      await rest.close();
    }
    // The server could write a little ahead into socket buffers, never the whole of an endless body.
    expect(srv.sent()).toBeLessThan(LIMITS.MAX_REST_BODY_BYTES + 16 * 1024 * 1024);
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(3 * LIMITS.MAX_REST_BODY_BYTES);
  });

  it('a declared Content-Length beyond the limit is refused before a byte of the body is read', async () => {
    const srv = await endless(200, { 'Content-Length': String(2 ** 40) });
    const rest = new RestClient({ baseUrl: srv.base, clock: new ManualClock(0) });
    try {
      const e = await failure(rest);
      expect(e.kind).toBe('too_large');
    } finally {
      await rest.close();
    }
    expect(srv.sent()).toBeLessThan(8 * 1024 * 1024);
  });

  it('an endless error body: read to 64 KiB only, the message quotes 200 characters of it', async () => {
    const srv = await endless(503);
    const rest = new RestClient({ baseUrl: srv.base, clock: new ManualClock(0) });
    try {
      const e = await failure(rest);
      expect(e.kind).toBe('server');
      expect(e.message).toMatch(/^HTTP 503: exchange-side error, outcome unknown: a{200}…\(\+\d+ chars\)$/);
    } finally {
      await rest.close();
    }
    expect(srv.sent()).toBeLessThan(LIMITS.MAX_REST_ERROR_BODY_BYTES + 16 * 1024 * 1024);
  });
});

describe('WebSocket messages', () => {
  it('one message beyond MAX_WS_MESSAGE_BYTES is refused by the socket as oversized; the session reconnects', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    let conns = 0;
    wss.on('connection', (ws) => {
      conns++;
      if (conns === 1) ws.send(Buffer.alloc(LIMITS.MAX_WS_MESSAGE_BYTES + 1, 0x61).toString());
    });
    await new Promise<void>((r) => wss.once('listening', () => r()));
    const port = (wss.address() as AddressInfo).port;
    const clock = new ManualClock(0);
    const refused: string[] = [];
    const session = new WsSession({
      protocol: {
        url: `ws://127.0.0.1:${port}/market/stream`,
        source: 'ws:/market/stream',
        streams: [],
        silenceLimitMs: () => Infinity,
        subscribeMessages: () => [],
        controlGapMs: 0,
        resubscribeMessages: () => [],
        classify: () => ({ kind: 'data', stream: null }),
      },
      clock,
      onFrame: () => undefined,
      onRefused: (reason) => refused.push(reason),
    });
    try {
      session.start();
      await eventually('oversized message refused, connection closed', () => refused.length === 1 && session.reconnects === 1);
      expect(refused).toEqual(['oversized_frame']);
      clock.advance(5_000);
      await eventually('reconnected', () => conns === 2 && session.state === 'OPEN');
    } finally {
      await session.stop();
      await new Promise<void>((r) => wss.close(() => r()));
    }
  });
});

describe('files whose size we do not control', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'pp-bounded-'));

  it('readTextBounded stops at its cap on /dev/zero and on a big file, and reads a small one whole', () => {
    if (existsSync('/dev/zero')) expect(() => readTextBounded('/dev/zero', 1024)).toThrow(TooLargeError);
    const big = join(tmp, 'big');
    writeFileSync(big, Buffer.alloc(4097, 0x20));
    expect(() => readTextBounded(big, 4096)).toThrow(`${big} is larger than 4096 bytes`);
    writeFileSync(big, 'é'.repeat(10));
    expect(readTextBounded(big, 4096)).toBe('é'.repeat(10));
  });

  it.runIf(existsSync('/dev/zero'))('a config file that is /dev/zero: one error naming it, at once', () => {
    expect(() => loadConfig({ file: '/dev/zero' })).toThrow(ConfigError);
    expect(() => loadConfig({ file: '/dev/zero' })).toThrow(
      `config file /dev/zero is larger than ${MAX_CONFIG_FILE_BYTES / 1024 / 1024} MiB (not a config file?)`,
    );
  });

  it('a left-over snapshot that is not a snapshot (too big) is left alone as unreadable', async () => {
    const path = join(tmp, 'latest_snapshot.json');
    writeFileSync(path, Buffer.alloc(65 * 1024 * 1024, 0x20));
    expect(await markUncleanEnd(path, { runId: 'r', clock: new ManualClock(0) })).toEqual({ marked: false, why: 'unreadable' });
  });
});
