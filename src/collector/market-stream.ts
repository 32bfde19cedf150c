/**
 * The market WebSocket (BINANCE.md §1–§3, §11): one combined connection on the `/market` route,
 * subscribed by batched SUBSCRIBE messages, kept alive forever.
 *
 * What can go wrong and what we do:
 *   - close/error            → reconnect with exponential backoff + jitter (1 s ×2, cap 30 s);
 *                              the backoff resets once a connection has delivered data for 60 s;
 *   - half-open / stalled    → no frame at all for `staleAfterMs` → terminate and reconnect;
 *   - acked but silent       → per-stream cadence watchdog reports the stream SILENT (the 2026
 *                              unrouted-URL failure looks exactly like this) and resubscribes it once;
 *   - the 24 h limit         → make-before-break rotation shortly before it.
 */
import WebSocket from 'ws';

export type WsState = 'IDLE' | 'CONNECTING' | 'OPEN' | 'RECONNECTING' | 'CLOSED';
export type StreamHealth = 'WAITING' | 'FLOWING' | 'SILENT';

export interface StreamStatus {
  state: StreamHealth;
  last_msg_ms: number | null;
  msgs: number;
  silence_limit_ms: number;
}

export interface MarketStreamOptions {
  /** WS root, e.g. wss://fstream.binance.com. */
  wsUrl: string;
  streams: readonly string[];
  /** Silence tolerated per stream before it is reported SILENT; Infinity = never (liquidations). */
  silenceLimitMs: (stream: string) => number;
  onFrame: (text: string, recvMs: number, source: string) => void;
  /** Frames that are not text or exceed the socket limit; counted as malformed by the caller. */
  onBadFrame: (reason: string, recvMs: number, source: string, raw: string) => void;
  onStateChange?: (state: WsState, detail: string) => void;
  onSilentStream?: (stream: string, silentForMs: number) => void;
  clock?: () => number;
  staleAfterMs?: number;
  rotateAfterMs?: number;
  /** Max params in one SUBSCRIBE and min gap between control messages (≤ 10 messages/s allowed). */
  subscribeBatch?: number;
  controlGapMs?: number;
  backoff?: { initialMs: number; maxMs: number; healthyAfterMs: number };
  /** Frame size cap for the socket itself; the normalizer enforces the finer limit. */
  maxPayloadBytes?: number;
  /** Randomness for jitter (injectable for tests). */
  random?: () => number;
}

interface Conn {
  ws: WebSocket;
  id: number;
  openedAt: number;
  firstDataAt: number | null;
  lastFrameAt: number;
  retiring: boolean;
  lastError?: string;
}

const ROUTE = '/market/stream';

export class MarketStream {
  state: WsState = 'IDLE';
  reconnects = 0;
  lastMsgMs: number | null = null;
  readonly perStream = new Map<string, StreamStatus>();
  readonly url: string;

  private readonly clock: () => number;
  private readonly random: () => number;
  private current: Conn | null = null;
  private next: Conn | null = null;
  private connSeq = 0;
  private msgId = 0;
  private attempt = 0;
  private stopped = false;
  private timers = new Set<NodeJS.Timeout>();
  private watchdog: NodeJS.Timeout | null = null;
  private readonly resubscribed = new Set<string>();

  constructor(private readonly opts: MarketStreamOptions) {
    this.clock = opts.clock ?? Date.now;
    this.random = opts.random ?? Math.random;
    this.url = `${opts.wsUrl.replace(/\/+$/, '')}${ROUTE}`;
    for (const s of opts.streams) {
      this.perStream.set(s, { state: 'WAITING', last_msg_ms: null, msgs: 0, silence_limit_ms: finiteOr(opts.silenceLimitMs(s), 0) });
    }
  }

  start(): void {
    this.stopped = false;
    this.connect(false);
    this.watchdog = setInterval(() => this.checkLiveness(), 1000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.watchdog) clearInterval(this.watchdog);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const closing = [this.current, this.next].filter((c): c is Conn => c !== null);
    this.current = null;
    this.next = null;
    await Promise.all(closing.map((c) => closeConn(c.ws)));
    this.setState('CLOSED', 'stopped');
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private setState(s: WsState, detail: string): void {
    if (this.state === s) return;
    this.state = s;
    this.opts.onStateChange?.(s, detail);
  }

  /** Open a connection. `rotation`: make-before-break, the current one keeps serving meanwhile. */
  private connect(rotation: boolean): void {
    if (this.stopped) return;
    if (!rotation) this.setState(this.reconnects === 0 && this.current === null && this.attempt === 0 ? 'CONNECTING' : 'RECONNECTING', 'connecting');
    const ws = new WebSocket(this.url, { maxPayload: this.opts.maxPayloadBytes ?? 16 * 1024 * 1024, handshakeTimeout: 10_000 });
    const now = this.clock();
    const conn: Conn = { ws, id: ++this.connSeq, openedAt: now, firstDataAt: null, lastFrameAt: now, retiring: false };
    if (rotation) this.next = conn;
    else this.current = conn;
    const source = `ws:${ROUTE}`;

    ws.on('open', () => {
      conn.lastFrameAt = this.clock();
      if (!rotation) this.setState('OPEN', `connected to ${this.url}`);
      this.subscribe(conn);
    });
    ws.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
      const recv = this.clock();
      conn.lastFrameAt = recv;
      if (conn.retiring) return;
      const text = Buffer.isBuffer(data)
        ? data.toString('utf8')
        : Array.isArray(data)
          ? Buffer.concat(data).toString('utf8')
          : Buffer.from(data).toString('utf8');
      if (isBinary) {
        this.opts.onBadFrame('binary_frame', recv, source, text);
        return;
      }
      if (text.startsWith('{"result"') || text.startsWith('{"id"') || text.startsWith('{"code"')) {
        // Control replies are recorded too (they explain later silences) but are not market data.
        this.opts.onFrame(text, recv, source);
        return;
      }
      if (conn === this.next) this.promote(conn);
      if (conn !== this.current) return;
      if (conn.firstDataAt === null) conn.firstDataAt = recv;
      this.lastMsgMs = recv;
      this.noteStream(text, recv);
      this.opts.onFrame(text, recv, source);
    });
    ws.on('ping', () => {
      conn.lastFrameAt = this.clock();
    });
    ws.on('error', (err: Error) => {
      // 'close' follows; the error text is kept for the state detail.
      if (err.message.includes('Max payload')) this.opts.onBadFrame('oversized_frame', this.clock(), source, '');
      conn.lastError = err.message;
    });
    ws.on('close', (code: number, reason: Buffer) => this.onClose(conn, code, reason.toString() || conn.lastError || ''));
    if (!rotation && this.opts.rotateAfterMs !== undefined) {
      this.later(this.opts.rotateAfterMs, () => this.rotate());
    }
  }

  private subscribe(conn: Conn): void {
    const batch = this.opts.subscribeBatch ?? 50;
    const gap = this.opts.controlGapMs ?? 250;
    const streams = [...this.opts.streams];
    for (let i = 0, n = 0; i < streams.length; i += batch, n++) {
      const params = streams.slice(i, i + batch);
      this.later(n * gap, () => {
        if (conn.ws.readyState === WebSocket.OPEN) conn.ws.send(JSON.stringify({ method: 'SUBSCRIBE', params, id: ++this.msgId }));
      });
    }
  }

  private noteStream(text: string, recv: number): void {
    // `{"stream":"<name>",` — Binance always puts the stream first on combined connections.
    if (!text.startsWith('{"stream":"')) return;
    const end = text.indexOf('"', 11);
    if (end < 0) return;
    const st = this.perStream.get(text.slice(11, end));
    if (st === undefined) return;
    st.msgs++;
    st.last_msg_ms = recv;
    if (st.state !== 'FLOWING') st.state = 'FLOWING';
  }

  /** The rotated-in connection delivered data: it takes over, the old one is closed. */
  private promote(conn: Conn): void {
    const old = this.current;
    this.current = conn;
    this.next = null;
    if (old) {
      old.retiring = true;
      void closeConn(old.ws);
    }
    if (this.opts.rotateAfterMs !== undefined) this.later(this.opts.rotateAfterMs, () => this.rotate());
  }

  private rotate(): void {
    if (this.stopped || this.next !== null || this.current === null) return;
    this.connect(true);
  }

  private onClose(conn: Conn, code: number, reason: string): void {
    if (this.stopped || conn.retiring) return;
    if (conn === this.next) {
      // A failed rotation attempt: the current connection still serves; try again later.
      this.next = null;
      this.later(30_000, () => this.rotate());
      return;
    }
    if (conn !== this.current) return;
    this.current = null;
    const now = this.clock();
    const healthy = this.opts.backoff?.healthyAfterMs ?? 60_000;
    if (conn.firstDataAt !== null && now - conn.firstDataAt >= healthy) this.attempt = 0;
    this.attempt++;
    this.reconnects++;
    const initial = this.opts.backoff?.initialMs ?? 1000;
    const max = this.opts.backoff?.maxMs ?? 30_000;
    const delay = Math.round(Math.min(max, initial * 2 ** (this.attempt - 1)) * (0.8 + 0.4 * this.random()));
    this.setState('RECONNECTING', `closed (code ${code}${reason ? `, ${reason}` : ''}); retry in ${delay} ms`);
    for (const st of this.perStream.values()) if (st.state === 'FLOWING') st.state = 'WAITING';
    this.resubscribed.clear();
    this.later(delay, () => this.connect(false));
  }

  /** Once a second: the whole-connection stall check and the per-stream cadence check. */
  private checkLiveness(): void {
    const conn = this.current;
    if (this.stopped || conn === null || conn.ws.readyState !== WebSocket.OPEN) return;
    const now = this.clock();
    const stale = this.opts.staleAfterMs ?? 30_000;
    if (now - conn.lastFrameAt > stale) {
      // Half-open sockets never deliver a close; terminate() does not wait for one.
      conn.ws.terminate();
      return;
    }
    const subscribedFor = now - conn.openedAt;
    for (const [name, st] of this.perStream) {
      const limit = st.silence_limit_ms;
      if (limit <= 0) continue;
      const since = st.last_msg_ms === null ? subscribedFor : now - Math.max(st.last_msg_ms, conn.openedAt);
      if (since > limit) {
        if (st.state !== 'SILENT') {
          st.state = 'SILENT';
          this.opts.onSilentStream?.(name, since);
          if (!this.resubscribed.has(name)) {
            this.resubscribed.add(name);
            conn.ws.send(JSON.stringify({ method: 'SUBSCRIBE', params: [name], id: ++this.msgId }));
          }
        }
      }
    }
  }
}

function finiteOr(x: number, fallback: number): number {
  return Number.isFinite(x) ? x : fallback;
}

function closeConn(ws: WebSocket): Promise<void> {
  return new Promise((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) return resolve();
    const t = setTimeout(() => {
      ws.terminate();
      resolve();
    }, 2000);
    ws.once('close', () => {
      clearTimeout(t);
      resolve();
    });
    try {
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else ws.close(1000, 'client closing');
    } catch {
      ws.terminate();
    }
  });
}
