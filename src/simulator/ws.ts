/**
 * The WebSocket side: connections, live SUBSCRIBE handling, fan-out and per-connection faults.
 *
 * Limits follow BINANCE.md §2–§3 and are measured on the exchange clock (like everything else),
 * so a client that paces itself by the simulator's clock sees the same limits at any speed.
 */
import type { Duplex } from 'node:stream';
import type { RawData, WebSocket } from 'ws';
import type { SimClock } from './clock';
import type { FaultState } from './faults';
import { garbageFrames, schemaViolationFrames } from './faults';
import { envelope } from './frames';
import type { Rng } from './rng';
import { MAX_STREAMS_PER_CONNECTION, routeDelivers, streamCategory, type WsTarget } from './routes';

export const WS_LIMITS = Object.freeze({
  /** Client → server messages (JSON, ping, pong) per second per connection; more closes it. */
  MAX_INCOMING_PER_S: 10,
  PING_EVERY_MS: 3 * 60_000,
  PONG_TIMEOUT_MS: 10 * 60_000,
  LIFETIME_MS: 24 * 3600_000,
  /** A reader this far behind is dropped rather than buffered without bound. */
  MAX_BUFFERED_BYTES: 64 << 20,
  /** Last aggTrade frames remembered per connection for the duplicate fault. */
  RECENT_AGG_TRADES: 1024,
  /** An out-of-order batch that cannot fill up is sent anyway after this long. */
  SHUFFLE_MAX_HOLD_MS: 5_000,
});

/** Close codes: 1001 is what a server going away (the 24 h limit) sends; 1008 a policy breach. */
export const CLOSE_LIFETIME = 1001;
export const CLOSE_TOO_MANY_MESSAGES = 1008;

export interface HubStats {
  connections: number;
  subscribeMessages: number;
  framesSent: number;
  framesByStream: Record<string, number>;
}

class Connection {
  combined: boolean;
  readonly streams = new Set<string>();
  private readonly incoming: number[] = [];
  pausedUntil = 0;
  lastPingAt: number;
  awaitingPongSince: number | null = null;
  shuffleLeft = 0;
  shuffleSince = 0;
  readonly shuffleBuf: string[] = [];
  readonly recentAgg: string[] = [];
  private recentHead = 0;
  closed = false;

  constructor(
    readonly id: number,
    readonly ws: WebSocket,
    readonly socket: Duplex,
    readonly target: WsTarget,
    readonly openedAt: number,
  ) {
    this.combined = target.combined;
    this.lastPingAt = openedAt;
  }

  /** Record one incoming message; false when it breaks the per-second limit. */
  countIncoming(t: number): boolean {
    const q = this.incoming;
    q.push(t);
    while (q.length > 0 && (q[0] as number) <= t - 1000) q.shift();
    return q.length <= WS_LIMITS.MAX_INCOMING_PER_S;
  }

  paused(t: number): boolean {
    return t < this.pausedUntil;
  }

  rememberAgg(text: string): void {
    if (this.recentAgg.length < WS_LIMITS.RECENT_AGG_TRADES) this.recentAgg.push(text);
    else {
      this.recentAgg[this.recentHead] = text;
      this.recentHead = (this.recentHead + 1) % WS_LIMITS.RECENT_AGG_TRADES;
    }
  }

  /** The last `n` aggTrade frames, oldest first. */
  lastAgg(n: number): string[] {
    const r = this.recentAgg;
    const ordered = r.length < WS_LIMITS.RECENT_AGG_TRADES ? r : [...r.slice(this.recentHead), ...r.slice(0, this.recentHead)];
    return ordered.slice(Math.max(0, ordered.length - n));
  }
}

type ControlRequest = { id: unknown; method: unknown; params: unknown };

function isControl(x: unknown): x is ControlRequest {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

export class WsHub {
  private readonly conns = new Set<Connection>();
  /** Deliverable subscriptions only: a stream on a route that never serves it is acked but absent here. */
  private readonly subscribers = new Map<string, Set<Connection>>();
  private nextId = 1;
  readonly stats: HubStats = { connections: 0, subscribeMessages: 0, framesSent: 0, framesByStream: {} };

  constructor(
    private readonly clock: SimClock,
    private readonly faults: FaultState,
    private readonly rng: Rng,
    private readonly autoClose24h: boolean,
    /** Told about every deliverable subscription (the demo anchors its first cascade on it). */
    private readonly onSubscribe: (stream: string) => void,
  ) {}

  get openConnections(): number {
    return this.conns.size;
  }

  subscribedStreams(): string[] {
    const all = new Set<string>();
    for (const c of this.conns) for (const s of c.streams) all.add(s);
    return [...all].sort();
  }

  accept(ws: WebSocket, socket: Duplex, target: WsTarget): void {
    const c = new Connection(this.nextId++, ws, socket, target, this.clock.now());
    this.conns.add(c);
    this.stats.connections++;
    this.subscribe(c, target.streams);
    ws.on('message', (data: RawData, isBinary: boolean) => this.onMessage(c, data, isBinary));
    ws.on('ping', (data: Buffer) => {
      if (!this.countIncoming(c)) return;
      if (!c.paused(this.clock.now())) ws.pong(data);
    });
    ws.on('pong', () => {
      if (!this.countIncoming(c)) return;
      c.awaitingPongSince = null;
    });
    ws.on('close', () => this.drop(c));
    ws.on('error', () => this.drop(c));
  }

  private drop(c: Connection): void {
    if (c.closed) return;
    c.closed = true;
    this.conns.delete(c);
    for (const s of c.streams) this.subscribers.get(s)?.delete(c);
  }

  private countIncoming(c: Connection): boolean {
    if (c.countIncoming(this.clock.now())) return true;
    // Binance disconnects a connection that sends more than 10 messages a second.
    c.ws.close(CLOSE_TOO_MANY_MESSAGES, 'Too many messages');
    this.drop(c);
    return false;
  }

  private subscribe(c: Connection, streams: readonly string[]): void {
    for (const s of streams) {
      if (c.streams.has(s)) continue;
      c.streams.add(s);
      if (!routeDelivers(c.target.route, streamCategory(s))) continue;
      let set = this.subscribers.get(s);
      if (set === undefined) this.subscribers.set(s, (set = new Set()));
      set.add(c);
      this.onSubscribe(s);
    }
  }

  private unsubscribe(c: Connection, streams: readonly string[]): void {
    for (const s of streams) {
      c.streams.delete(s);
      this.subscribers.get(s)?.delete(c);
    }
  }

  private reply(c: Connection, body: Record<string, unknown>): void {
    if (c.paused(this.clock.now())) return;
    c.ws.send(JSON.stringify(body));
    this.stats.framesSent++;
  }

  private onMessage(c: Connection, data: RawData, isBinary: boolean): void {
    if (!this.countIncoming(c)) return;
    // A half-open connection swallows everything, requests included.
    if (c.paused(this.clock.now())) return;
    const text = isBinary ? '' : Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8');
    let req: unknown;
    try {
      req = JSON.parse(text);
    } catch {
      this.reply(c, { code: 3, msg: 'Invalid JSON: expected value at line 1 column 1', id: null });
      return;
    }
    if (!isControl(req)) {
      this.reply(c, { code: 2, msg: 'Invalid request: expected an object', id: null });
      return;
    }
    const id = req.id;
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) {
      this.reply(c, { code: 2, msg: 'Invalid request: request ID must be an unsigned integer', id: null });
      return;
    }
    const params = req.params;
    const isStringList = Array.isArray(params) && params.every((p) => typeof p === 'string');
    switch (req.method) {
      case 'SUBSCRIBE': {
        this.stats.subscribeMessages++;
        if (!isStringList) return this.reply(c, { code: 2, msg: 'Invalid request: params must be an array of stream names', id });
        const list = params as string[];
        const fresh = new Set(list.filter((s) => !c.streams.has(s)));
        if (c.streams.size + fresh.size > MAX_STREAMS_PER_CONNECTION) {
          return this.reply(c, { code: 2, msg: `Invalid request: more than ${MAX_STREAMS_PER_CONNECTION} streams on one connection`, id });
        }
        this.subscribe(c, list);
        return this.reply(c, { result: null, id });
      }
      case 'UNSUBSCRIBE':
        if (!isStringList) return this.reply(c, { code: 2, msg: 'Invalid request: params must be an array of stream names', id });
        this.unsubscribe(c, params as string[]);
        return this.reply(c, { result: null, id });
      case 'LIST_SUBSCRIPTIONS':
        return this.reply(c, { result: [...c.streams], id });
      case 'SET_PROPERTY': {
        if (!Array.isArray(params) || params[0] !== 'combined') return this.reply(c, { code: 0, msg: 'Unknown property', id });
        if (typeof params[1] !== 'boolean') return this.reply(c, { code: 1, msg: 'Invalid value type: expected Boolean', id });
        c.combined = params[1];
        return this.reply(c, { result: null, id });
      }
      case 'GET_PROPERTY':
        if (!Array.isArray(params) || params[0] !== 'combined') return this.reply(c, { code: 0, msg: 'Unknown property', id });
        return this.reply(c, { result: c.combined, id });
      default:
        return this.reply(c, { code: 2, msg: `Invalid request: unknown method ${JSON.stringify(req.method)}`, id });
    }
  }

  /** Whether any connection would receive `stream` (lets the caller skip building the text). */
  wants(stream: string): boolean {
    const set = this.subscribers.get(stream);
    return set !== undefined && set.size > 0;
  }

  publish(stream: string, payload: string, t: number, isAggTrade = false): void {
    const set = this.subscribers.get(stream);
    if (set === undefined || set.size === 0) return;
    if (this.faults.suppressed(stream, t)) return;
    let wrapped: string | null = null;
    let sent = 0;
    for (const c of set) {
      if (c.paused(t)) continue;
      const text = c.combined ? (wrapped ??= envelope(stream, payload)) : payload;
      if (isAggTrade) c.rememberAgg(text);
      if (c.shuffleLeft > 0) {
        c.shuffleBuf.push(text);
        if (--c.shuffleLeft === 0) this.flushShuffled(c);
        continue;
      }
      c.ws.send(text);
      sent++;
    }
    if (sent > 0) {
      this.stats.framesSent += sent;
      this.stats.framesByStream[stream] = (this.stats.framesByStream[stream] ?? 0) + sent;
    }
  }

  private sendRaw(c: Connection, frames: readonly string[]): void {
    for (const f of frames) c.ws.send(f);
    this.stats.framesSent += frames.length;
  }

  private flushShuffled(c: Connection): void {
    const buf = c.shuffleBuf.splice(0);
    c.shuffleLeft = 0;
    if (buf.length > 1) {
      const original = [...buf];
      this.rng.shuffle(buf);
      // A shuffle that happens to keep the order would make the fault a no-op.
      if (buf.every((x, i) => x === original[i])) buf.reverse();
    }
    this.sendRaw(c, buf);
  }

  /** Batch the writes of one tick into as few syscalls as possible. */
  cork(): void {
    for (const c of this.conns) c.socket.cork();
  }

  uncork(): void {
    for (const c of this.conns) c.socket.uncork();
  }

  /** Pings, pong timeouts, the 24 h lifetime, slow readers, stuck shuffles. */
  housekeeping(t: number): void {
    for (const c of [...this.conns]) {
      if (c.ws.bufferedAmount > WS_LIMITS.MAX_BUFFERED_BYTES) {
        c.ws.terminate();
        this.drop(c);
        continue;
      }
      if (this.autoClose24h && t - c.openedAt >= WS_LIMITS.LIFETIME_MS) {
        this.closeLifetime(c);
        continue;
      }
      if (c.paused(t)) continue;
      if (c.shuffleLeft > 0 && c.shuffleBuf.length > 0 && t - c.shuffleSince > WS_LIMITS.SHUFFLE_MAX_HOLD_MS) this.flushShuffled(c);
      if (c.awaitingPongSince !== null && t - c.awaitingPongSince > WS_LIMITS.PONG_TIMEOUT_MS) {
        c.ws.terminate();
        this.drop(c);
        continue;
      }
      if (t - c.lastPingAt >= WS_LIMITS.PING_EVERY_MS) {
        c.lastPingAt = t;
        c.awaitingPongSince ??= t;
        c.ws.ping();
      }
    }
  }

  private closeLifetime(c: Connection): void {
    c.ws.close(CLOSE_LIFETIME, 'Connection lifetime exceeded (24h)');
    this.drop(c);
  }

  private marketConns(): Connection[] {
    return [...this.conns].filter((c) => c.target.route === 'market');
  }

  abruptClose(): void {
    for (const c of this.marketConns()) {
      c.socket.destroy();
      this.drop(c);
    }
  }

  halfOpen(until: number): void {
    for (const c of this.conns) c.pausedUntil = Math.max(c.pausedUntil, until);
  }

  garbage(count: number): void {
    for (const c of this.marketConns()) this.sendRaw(c, garbageFrames(count, this.rng));
  }

  binary(count: number): void {
    for (const c of this.marketConns()) {
      for (let i = 0; i < count; i++) c.ws.send(Buffer.from([0x00, 0x01, 0x02, 0xff, i & 0xff]), { binary: true });
      this.stats.framesSent += count;
    }
  }

  schemaViolation(count: number, t: number): void {
    for (const c of this.marketConns()) this.sendRaw(c, schemaViolationFrames(count, t, c.combined));
  }

  duplicate(count: number): void {
    for (const c of this.conns) if (!c.paused(this.clock.now())) this.sendRaw(c, c.lastAgg(count));
  }

  outOfOrder(count: number, t: number): void {
    for (const c of this.conns) {
      c.shuffleLeft = count;
      c.shuffleSince = t;
    }
  }

  close24h(): void {
    for (const c of [...this.conns]) this.closeLifetime(c);
  }

  closeAll(): void {
    for (const c of [...this.conns]) {
      c.ws.terminate();
      this.drop(c);
    }
  }
}
