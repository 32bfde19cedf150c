/**
 * The doctor's effects on the world (checks.ts `DoctorIo`): one WebSocket per route, one GET
 * /fapi/v1/time, statfs and stat, a temp file per folder, and Qt started in a child process so a
 * broken Qt installation (which aborts the process that loads it) cannot take the doctor down.
 * Everything is released before a probe resolves: the CLI exits on its own when the checks end.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, statfsSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Agent, request } from '../collector/undici-request';
import WebSocket from 'ws';
import { LIMITS } from '../core/constants';
import { describeFsError } from '../files/errors';
import { tempPathFor } from '../files/temp-files';
import { freeBytes, type StatFs, storeFilesAt } from '../store/files';
import type { DoctorIo, QtProbeResult, RestTimeResult, WriteProbeResult, WsProbeResult } from './checks';
import { wallClock } from '../clock/clock';

/** The deepest existing folder on the way to `path` (itself when it exists). */
export function nearestExisting(path: string): string {
  let p = resolve(path);
  while (!existsSync(p)) {
    const up = dirname(p);
    if (up === p) break;
    p = up;
  }
  return p;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

export function probeWs(url: string, stream: string, timeoutMs: number): Promise<WsProbeResult> {
  return new Promise((done) => {
    const r: WsProbeResult = { opened: false, acked: false, firstDataMs: null, error: null };
    let openedAt = 0;
    let finished = false;
    const ws = new WebSocket(url, { handshakeTimeout: timeoutMs, perMessageDeflate: false, maxPayload: LIMITS.MAX_WS_FRAME_BYTES });
    const finish = (): void => {
      if (finished) return;
      finished = true;
      timer.cancel();
      ws.removeAllListeners();
      ws.on('error', () => undefined);
      ws.terminate();
      done(r);
    };
    const timer = wallClock.after(timeoutMs, finish);
    ws.on('open', () => {
      r.opened = true;
      openedAt = performance.now();
      ws.send(JSON.stringify({ method: 'SUBSCRIBE', params: [stream], id: 1 }));
    });
    ws.on('message', (data: WebSocket.RawData) => {
      let msg: unknown;
      try {
        msg = JSON.parse(String(data));
      } catch {
        return;
      }
      if (!isRecord(msg)) return;
      if (msg.id === 1 && 'result' in msg) {
        r.acked = msg.result === null;
        if (!r.acked) r.error = `SUBSCRIBE answered ${JSON.stringify(msg).slice(0, 200)}`;
        return;
      }
      if (msg.id === 1 && 'error' in msg) {
        r.error = `SUBSCRIBE refused: ${JSON.stringify(msg.error).slice(0, 200)}`;
        return;
      }
      if (msg.stream === stream && msg.data !== undefined) {
        r.firstDataMs = performance.now() - openedAt;
        finish();
      }
    });
    ws.on('unexpected-response', (req, res) => {
      r.error = `HTTP ${res.statusCode ?? '?'} instead of a WebSocket upgrade`;
      req.destroy();
      finish();
    });
    ws.on('error', (e: Error) => {
      r.error = e.message;
      finish();
    });
    ws.on('close', (code: number, reason: Buffer) => {
      r.error = `closed by the server (code ${code}${reason.length > 0 ? `: ${reason.toString().slice(0, 120)}` : ''})`;
      finish();
    });
  });
}

function header(h: Record<string, string | string[] | undefined>, name: string): number | null {
  const raw = h[name];
  const n = Number(Array.isArray(raw) ? raw[0] : raw);
  return raw !== undefined && Number.isFinite(n) ? n : null;
}

export async function restTime(restUrl: string, timeoutMs: number, opts: { now?: () => number; tcpKeepAlive?: boolean } = {}): Promise<RestTimeResult> {
  const now = opts.now ?? wallClock.now;
  // A private agent, closed at the end: pooled keep-alive sockets would hold the CLI open.
  const agent = new Agent({ connections: 1, connect: { keepAlive: opts.tcpKeepAlive ?? true } });
  const sentMs = now();
  try {
    const res = await request(new URL('/fapi/v1/time', restUrl), {
      method: 'GET',
      dispatcher: agent,
      signal: AbortSignal.timeout(timeoutMs),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    const text = await res.body.text();
    const recvMs = now();
    const ok = res.statusCode >= 200 && res.statusCode < 300;
    let serverTimeMs: number | null = null;
    if (ok) {
      try {
        const body: unknown = JSON.parse(text);
        if (isRecord(body) && Number.isSafeInteger(body.serverTime)) serverTimeMs = body.serverTime as number;
      } catch {
        serverTimeMs = null;
      }
    }
    return {
      status: res.statusCode,
      usedWeight1m: header(res.headers, 'x-mbx-used-weight-1m'),
      retryAfterS: header(res.headers, 'retry-after'),
      serverTimeMs,
      sentMs,
      recvMs,
      error: ok ? null : text.slice(0, 200),
    };
  } catch (e) {
    const err = e as Error & { code?: string };
    const timedOut = err.name === 'TimeoutError' || err.name === 'AbortError' || /timeout/i.test(err.code ?? '');
    const cause = (err.cause as Error | undefined)?.message;
    const error = timedOut ? `no answer within ${timeoutMs} ms` : `${err.message}${cause ? ` (${cause})` : ''}`;
    return { status: null, usedWeight1m: null, retryAfterS: null, serverTimeMs: null, sentMs, recvMs: now(), error };
  } finally {
    await agent.close().catch(() => undefined);
  }
}

/** Bytes of the regular files directly in `dir` (captures are flat); 0 when it does not exist. */
export function dirBytes(dir: string): number | null {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? 0 : null;
  }
  let total = 0;
  for (const n of names) {
    try {
      const st = statSync(join(dir, n));
      if (st.isFile()) total += st.size;
    } catch {
      // Rotated away between the listing and the stat: not there any more.
    }
  }
  return total;
}

export function probeWrite(dir: string): WriteProbeResult {
  const target = resolve(dir);
  const tested = nearestExisting(target);
  const existed = tested === target;
  try {
    if (!statSync(tested).isDirectory()) return { ok: false, testedDir: tested, existed, error: `${tested} is a file, not a folder` };
    const probe = tempPathFor(join(tested, '.peak-pressure-doctor'));
    writeFileSync(probe, 'doctor write probe\n', { flag: 'wx' });
    unlinkSync(probe);
    return { ok: true, testedDir: tested, existed, error: null };
  } catch (e) {
    return { ok: false, testedDir: tested, existed, error: describeFsError(e) };
  }
}

/** Open each existing store file for writing (without changing it): EROFS, EACCES show here. */
export function probeStoreFile(storePath: string): WriteProbeResult {
  const files = [storePath, `${storePath}-wal`, `${storePath}-shm`].filter((f) => existsSync(f));
  if (files.length === 0) return { ok: true, testedDir: dirname(resolve(storePath)), existed: false, error: null };
  for (const f of files) {
    try {
      closeSync(openSync(f, 'r+'));
    } catch (e) {
      return { ok: false, testedDir: dirname(resolve(storePath)), existed: true, error: `${f}: ${describeFsError(e)}` };
    }
  }
  return { ok: true, testedDir: dirname(resolve(storePath)), existed: true, error: null };
}

export interface QtProbeCommand {
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
}

/** The line `src/app/main.ts --qt-probe` prints once Qt is up. */
export const QT_PROBE_OK = /^qt-probe ok platform=(\S*)/m;

const KEEP_OUTPUT_CHARS = 8_192;

export function probeQt(cmd: QtProbeCommand, timeoutMs: number): Promise<QtProbeResult> {
  return new Promise((done) => {
    let out = '';
    let err = '';
    let timedOut = false;
    const child = spawn(cmd.command, cmd.args, { env: cmd.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (acc: string, chunk: Buffer): string => (acc + chunk.toString()).slice(-KEEP_OUTPUT_CHARS);
    child.stdout.on('data', (c: Buffer) => (out = keep(out, c)));
    child.stderr.on('data', (c: Buffer) => (err = keep(err, c)));
    const timer = wallClock.after(timeoutMs, () => {
      timedOut = true;
      child.kill('SIGKILL');
    });
    child.on('error', (e) => {
      timer.cancel();
      done({ ok: false, platform: null, noDisplay: false, detail: `cannot start ${cmd.command}: ${e.message}` });
    });
    child.on('close', (code, signal) => {
      timer.cancel();
      const m = QT_PROBE_OK.exec(out);
      if (code === 0 && m) return done({ ok: true, platform: m[1] || null, noDisplay: false, detail: '' });
      const lines = err
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l.length > 0);
      // Qt's own words about the plugin, else the app's (its display check), else the last lines.
      const telling = lines.filter((l) => /qt\.qpa|platform plugin/i.test(l));
      const said = (telling.length > 0 ? telling.slice(0, 2) : lines.slice(0, 1)).join(' / ');
      const how = timedOut ? `no answer within ${timeoutMs / 1000} s` : signal !== null ? `killed by ${signal}` : `exit code ${code ?? '?'}`;
      done({ ok: false, platform: null, noDisplay: code === 2 && /^No display/.test(lines[0] ?? ''), detail: said ? `${said} (${how})` : how });
    });
  });
}

export interface RealIoOptions {
  /** statfs, replaceable to simulate a small disk. */
  statfs?: StatFs;
  now?: () => number;
  tcpKeepAlive?: boolean;
  qt?: QtProbeCommand;
}

export function realDoctorIo(opts: RealIoOptions = {}): DoctorIo {
  const statfs = opts.statfs ?? statfsSync;
  return {
    probeWs,
    restTime: (url, timeoutMs) =>
      restTime(url, timeoutMs, { ...(opts.now ? { now: opts.now } : {}), ...(opts.tcpKeepAlive === undefined ? {} : { tcpKeepAlive: opts.tcpKeepAlive }) }),
    storeFiles: (path) => storeFilesAt(path, statfs),
    freeBytes: (path) => freeBytes(nearestExisting(path), statfs),
    dirBytes,
    probeWrite,
    probeStoreFile,
    probeQt: (timeoutMs) =>
      opts.qt === undefined
        ? Promise.resolve({ ok: false, platform: null, noDisplay: false, detail: 'no way to start the window was given' })
        : probeQt(opts.qt, timeoutMs),
  };
}
