/**
 * The local HTTP API (SPEC §22; off by default, `--http 127.0.0.1:PORT`): read-only views of the
 * latest committed snapshot and of the event store, for dashboards, scripts and Prometheus.
 *
 *   GET /api/snapshot              the latest snapshot (503 before the first commit)
 *   GET /api/events?since=&limit=  stored events, oldest first (since: epoch ms or ISO 8601; limit ≤ 500)
 *   GET /api/health                health, stage and the sinks (503 while FAILED or before the first snapshot)
 *   GET /metrics                   Prometheus text exposition
 *   GET /api/stream                server-sent events: `snapshot` every 1000 ms, `ping` every 15 000 ms
 *
 * Every other method is 403 and every other path 404; nothing here changes anything. Bounded:
 * requests carry no body (413), headers ≤ 16 KiB, at most 16 connections (the 17th gets 503), and a
 * stream client that stops reading is dropped once 1 MiB waits for it. A Host header other than
 * this loopback address is refused (403), so a web page cannot reach the API by DNS rebinding.
 *
 * It takes a snapshot provider and a store reader, so it runs wherever the caller has them (the
 * collector worker, or the main thread).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { type Clock, type Timer, wallClock } from '../clock/clock';
import type { SinkStatus } from '../core/contracts/sink-status';
import type { Snapshot } from '../core/contracts/snapshot';
import type { StoredEventRow } from '../store/contract';
import { parseTimeArg } from '../app/events-command';
import type { ListenAddress } from './listen';
import { renderMetrics } from './metrics';

export interface ApiSources {
  snapshot: () => Snapshot | null;
  /** Stored events with window_end_ms ≥ sinceMs, oldest first, at most `limit`; null when the store cannot be read. */
  events: (q: { sinceMs?: number; limit: number }) => readonly StoredEventRow[] | null;
  /** The sinks' status when the snapshot does not carry it yet. */
  sinks?: () => readonly SinkStatus[];
}

export interface ApiServerOptions {
  listen: ListenAddress;
  sources: ApiSources;
  maxClients?: number;
  sseSnapshotMs?: number;
  ssePingMs?: number;
  /** A stream client with more than this many bytes waiting for it is dropped. */
  maxBufferedBytes?: number;
  /** Time and the stream's timers (default: the wall clock). */
  clock?: Clock;
  rssBytes?: () => number;
}

export const API_LIMITS = Object.freeze({
  maxClients: 16,
  sseSnapshotMs: 1_000,
  ssePingMs: 15_000,
  maxBufferedBytes: 1 << 20,
  maxHeaderBytes: 16 * 1024,
  maxUrlChars: 2_048,
  maxEventsLimit: 500,
  defaultEventsLimit: 100,
});

export interface ApiStats {
  clients: number;
  sse_clients: number;
  sse_dropped: number;
  requests: number;
  refused: number;
  /** The most bytes ever waiting for one stream client (memory bound check). */
  max_sse_buffered: number;
}

interface SseClient {
  res: ServerResponse;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class ApiServer {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly refusedSockets = new WeakSet<Socket>();
  private readonly sse = new Set<SseClient>();
  private snapshotTimer: Timer | null = null;
  private pingTimer: Timer | null = null;
  private readonly o: Required<Omit<ApiServerOptions, 'listen' | 'sources'>>;
  private readonly s: ApiStats = { clients: 0, sse_clients: 0, sse_dropped: 0, requests: 0, refused: 0, max_sse_buffered: 0 };
  private cached: { snap: Snapshot; json: string } | null = null;
  private allowedHosts = new Set<string>();
  private boundPort = 0;

  private constructor(
    private readonly listen: ListenAddress,
    private readonly sources: ApiSources,
    opts: ApiServerOptions,
  ) {
    this.o = {
      maxClients: opts.maxClients ?? API_LIMITS.maxClients,
      sseSnapshotMs: opts.sseSnapshotMs ?? API_LIMITS.sseSnapshotMs,
      ssePingMs: opts.ssePingMs ?? API_LIMITS.ssePingMs,
      maxBufferedBytes: opts.maxBufferedBytes ?? API_LIMITS.maxBufferedBytes,
      clock: opts.clock ?? wallClock,
      rssBytes: opts.rssBytes ?? (() => process.memoryUsage.rss()),
    };
    this.server = createServer(
      { maxHeaderSize: API_LIMITS.maxHeaderBytes, requestTimeout: 30_000, headersTimeout: 10_000, keepAliveTimeout: 5_000 },
      (req, res) => this.onRequest(req, res),
    );
    this.server.on('connection', (socket: Socket) => this.onConnection(socket));
    this.server.on('clientError', (_err, socket: Socket) => {
      this.s.refused++;
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      else socket.destroy();
    });
  }

  /** Listens on the loopback address (the caller validated it with parseListenAddress). */
  static start(opts: ApiServerOptions): Promise<ApiServer> {
    const api = new ApiServer(opts.listen, opts.sources, opts);
    return new Promise((resolve, reject) => {
      api.server.once('error', reject);
      api.server.listen(opts.listen.port, opts.listen.host, () => {
        api.server.off('error', reject);
        const a = api.server.address();
        api.boundPort = typeof a === 'object' && a !== null ? a.port : opts.listen.port;
        const p = api.boundPort;
        api.allowedHosts = new Set([`127.0.0.1:${p}`, `localhost:${p}`, `[::1]:${p}`, `${opts.listen.host}:${p}`]);
        resolve(api);
      });
    });
  }

  get port(): number {
    return this.boundPort;
  }

  get url(): string {
    return `http://${this.listen.host.includes(':') ? `[${this.listen.host}]` : this.listen.host}:${this.boundPort}`;
  }

  stats(): ApiStats {
    return { ...this.s, clients: this.sockets.size, sse_clients: this.sse.size };
  }

  private onConnection(socket: Socket): void {
    if (this.sockets.size >= this.o.maxClients) {
      this.s.refused++;
      this.refusedSockets.add(socket);
      const body = JSON.stringify({ error: `too many clients: at most ${this.o.maxClients} connections; try again later` });
      socket.end(
        `HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      return;
    }
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    if (this.refusedSockets.has(req.socket)) return;
    try {
      this.route(req, res);
    } catch (e) {
      const status = e instanceof HttpError ? e.status : 500;
      if (status !== 500) this.s.refused++;
      if (!res.headersSent) this.json(res, status, { error: e instanceof Error ? e.message : String(e) });
      else res.destroy();
    }
  }

  private route(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'GET') throw new HttpError(403, `read-only API: ${req.method ?? '?'} is not allowed, only GET`);
    const host = (req.headers.host ?? '').toLowerCase();
    if (!this.allowedHosts.has(host)) throw new HttpError(403, `Host ${JSON.stringify(req.headers.host ?? '')} is not this loopback API (use ${this.url})`);
    const length = req.headers['content-length'];
    if ((length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined)
      throw new HttpError(413, 'requests to this API carry no body');
    const raw = req.url ?? '/';
    if (raw.length > API_LIMITS.maxUrlChars) throw new HttpError(414, `the URL is longer than ${API_LIMITS.maxUrlChars} characters`);
    const url = new URL(raw, 'http://api.local');
    this.s.requests++;
    switch (url.pathname) {
      case '/api/snapshot':
        return this.snapshot(url, res);
      case '/api/events':
        return this.events(url, res);
      case '/api/health':
        return this.health(url, res);
      case '/metrics':
        return this.metrics(url, res);
      case '/api/stream':
        return this.stream(url, req, res);
      default:
        throw new HttpError(404, `no such path ${url.pathname} (paths: /api/snapshot, /api/events, /api/health, /metrics, /api/stream)`);
    }
  }

  private noParams(url: URL, allowed: readonly string[] = []): void {
    for (const k of url.searchParams.keys()) {
      if (!allowed.includes(k))
        throw new HttpError(400, `unknown parameter ${JSON.stringify(k)}${allowed.length > 0 ? ` (accepted: ${allowed.join(', ')})` : ''}`);
    }
  }

  private send(res: ServerResponse, status: number, type: string, body: string): void {
    res.writeHead(status, {
      'Content-Type': type,
      'Content-Length': Buffer.byteLength(body),
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
    });
    res.end(body);
  }

  private json(res: ServerResponse, status: number, value: unknown): void {
    this.send(res, status, 'application/json; charset=utf-8', JSON.stringify(value));
  }

  /** The snapshot's JSON, serialised once per committed snapshot whatever the number of clients. */
  private snapshotJson(): string | null {
    const snap = this.sources.snapshot();
    if (snap === null) return null;
    if (this.cached?.snap !== snap) this.cached = { snap, json: JSON.stringify(snap) };
    return this.cached.json;
  }

  private snapshot(url: URL, res: ServerResponse): void {
    this.noParams(url);
    const json = this.snapshotJson();
    if (json === null) throw new HttpError(503, 'no snapshot yet: the collector has not committed one');
    this.send(res, 200, 'application/json; charset=utf-8', json);
  }

  private events(url: URL, res: ServerResponse): void {
    this.noParams(url, ['since', 'limit']);
    const sinceText = url.searchParams.get('since');
    const limitText = url.searchParams.get('limit');
    let sinceMs: number | undefined;
    if (sinceText !== null) {
      try {
        sinceMs = parseTimeArg('since', sinceText);
      } catch (e) {
        throw new HttpError(400, (e as Error).message.replace(/^--since/, 'since'));
      }
    }
    let limit: number = API_LIMITS.defaultEventsLimit;
    if (limitText !== null) {
      if (!/^\d{1,6}$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > API_LIMITS.maxEventsLimit) {
        throw new HttpError(400, `limit ${JSON.stringify(limitText)}: a whole number from 1 to ${API_LIMITS.maxEventsLimit}`);
      }
      limit = Number(limitText);
    }
    const rows = this.sources.events({ ...(sinceMs !== undefined ? { sinceMs } : {}), limit: limit + 1 });
    if (rows === null) throw new HttpError(503, 'the event store cannot be read');
    const page = rows.slice(0, limit);
    const more = rows.length > limit;
    // Each event is embedded as its stored canonical JSON, byte for byte.
    const items = page.map(
      (r) =>
        `{"policy_id":${JSON.stringify(r.policy_id)},"policy_version":${r.policy_version},"event_id":${JSON.stringify(r.event_id)},"run_id":${JSON.stringify(r.run_id)},"symbol":${JSON.stringify(r.symbol)},"window_end_ms":${r.window_end_ms},"stored_ms":${r.stored_ms},"event":${r.json}}`,
    );
    const last = page[page.length - 1];
    // Events of one window end share its ms: a client that continues from next_since skips ids it has.
    const next = more && last !== undefined ? last.window_end_ms : null;
    this.send(
      res,
      200,
      'application/json; charset=utf-8',
      `{"count":${page.length},"next_since":${next === null ? 'null' : next},"events":[${items.join(',')}]}`,
    );
  }

  private sinkStatus(snap: Snapshot | null): readonly SinkStatus[] {
    return snap?.sinks ?? this.sources.sinks?.() ?? [];
  }

  private health(url: URL, res: ServerResponse): void {
    this.noParams(url);
    const snap = this.sources.snapshot();
    const now = this.o.clock.now();
    if (snap === null) {
      this.json(res, 503, { health_state: 'STARTING', detail: 'no snapshot yet', sinks: this.sinkStatus(null) });
      return;
    }
    this.json(res, snap.health_state === 'FAILED' ? 503 : 200, {
      health_state: snap.health_state,
      health_reasons: snap.health_reasons,
      health_detail: snap.health_detail,
      stage: snap.stage,
      mode: snap.mode,
      run_id: snap.run_id,
      snapshot_seq: snap.snapshot_seq,
      snapshot_age_ms: Math.max(0, Math.round(now - snap.timestamp * 1000)),
      sinks: this.sinkStatus(snap),
    });
  }

  private metrics(url: URL, res: ServerResponse): void {
    this.noParams(url);
    const snap = this.sources.snapshot();
    const st = this.stats();
    const text = renderMetrics({ snapshot: snap, sinks: this.sinkStatus(snap), nowMs: this.o.clock.now(), rssBytes: this.o.rssBytes(), http: st });
    this.send(res, 200, 'text/plain; version=0.0.4; charset=utf-8', text);
  }

  private stream(url: URL, req: IncomingMessage, res: ServerResponse): void {
    this.noParams(url);
    req.socket.setTimeout(0);
    req.socket.setNoDelay(true);
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      'X-Accel-Buffering': 'no',
      Connection: 'keep-alive',
    });
    const client: SseClient = { res };
    this.sse.add(client);
    res.once('close', () => {
      this.sse.delete(client);
      if (this.sse.size === 0) this.stopTimers();
    });
    this.write(client, 'retry: 3000\n\n');
    this.sendSnapshot(client);
    this.startTimers();
  }

  private startTimers(): void {
    this.snapshotTimer ??= this.o.clock.every(this.o.sseSnapshotMs, () => {
      for (const c of [...this.sse]) this.sendSnapshot(c);
    });
    this.pingTimer ??= this.o.clock.every(this.o.ssePingMs, () => {
      const msg = `event: ping\ndata: ${this.o.clock.now()}\n\n`;
      for (const c of [...this.sse]) this.write(c, msg);
    });
  }

  private stopTimers(): void {
    this.snapshotTimer?.cancel();
    this.pingTimer?.cancel();
    this.snapshotTimer = null;
    this.pingTimer = null;
  }

  private sendSnapshot(c: SseClient): void {
    const json = this.snapshotJson();
    if (json === null) return;
    this.write(c, `event: snapshot\nid: ${this.cached?.snap.snapshot_seq ?? 0}\ndata: ${json}\n\n`);
  }

  /** Queues a message for a stream client, or drops the client when too much already waits for it. */
  private write(c: SseClient, msg: string): void {
    if (c.res.destroyed) return;
    if (c.res.writableLength + Buffer.byteLength(msg) > this.o.maxBufferedBytes) {
      this.s.sse_dropped++;
      this.sse.delete(c);
      c.res.destroy();
      return;
    }
    c.res.write(msg);
    if (c.res.writableLength > this.s.max_sse_buffered) this.s.max_sse_buffered = c.res.writableLength;
  }

  /** Stops listening and ends every connection (stream clients included). */
  close(): Promise<void> {
    this.stopTimers();
    for (const c of this.sse) c.res.destroy();
    this.sse.clear();
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      for (const s of this.sockets) s.destroy();
    });
  }
}
