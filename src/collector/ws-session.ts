/**
 * One WebSocket session kept alive forever, exchange-neutral (after flowsurface's WsAdapter: a
 * shared session loop runs an exchange's protocol hooks). The protocol (src/binance/
 * market-protocol.ts for Binance) says where to connect, what to send once connected and what a
 * text frame is; this loop owns the socket and the policy:
 *
 *   - close/error            → reconnect with exponential backoff + jitter (1 s ×2, cap 30 s);
 *                              the backoff resets once a connection has delivered data for 60 s;
 *   - half-open / stalled    → no frame at all for `staleAfterMs` → terminate and reconnect;
 *   - acked but silent       → per-stream cadence watchdog reports the stream SILENT (the 2026
 *                              unrouted-URL failure looks exactly like this) and resubscribes it once
 *                              (the streams found silent in one check in one message);
 *   - message-rate limits    → every control message of a connection goes out `controlGapMs` apart;
 *   - a connection age limit → make-before-break rotation after `rotateAfterMs`.
 *
 * Every duration is on the injected clock, so tests drive it with a ManualClock.
 */
import WebSocket from 'ws';
import type { Clock, Timer } from '../clock/clock';
import type { Snapshot } from '../core/contracts/snapshot';
import type { WsState } from '../core/contracts/vocabulary';
import { Backoff, type BackoffPolicy } from './backoff';

export type StreamStatus = Snapshot['streams']['per_stream'][string];

/** What a text frame is, as the protocol reads it. */
export type FrameKind = { kind: 'control' } | { kind: 'data'; stream: string | null };

/** The exchange side of a session: the hooks the loop calls. */
export interface WsProtocol {
  /** Where to connect (route included). */
  readonly url: string;
  /** The `source` recorded with every frame of this session (e.g. `ws:/market/stream`). */
  readonly source: string;
  /** The streams this session carries and watches. */
  readonly streams: readonly string[];
  /** Silence tolerated per stream before it is reported SILENT; Infinity = never (liquidations). */
  silenceLimitMs(stream: string): number;
  /** Messages to send on a fresh connection, in order. */
  subscribeMessages(): string[];
  /** The least time between two control messages on one connection (exchange message-rate limits). */
  readonly controlGapMs: number;
  /** The messages that ask again for streams found silent. */
  resubscribeMessages(streams: readonly string[]): string[];
  classify(text: string): FrameKind;
}

/**
 * Legal state changes (after nautilus_trader `crates/network/src/mode.rs`): anything else is a bug
 * and is refused, never half-applied.
 */
export const WS_TRANSITIONS: Readonly<Record<WsState, readonly WsState[]>> = Object.freeze({
  IDLE: ['CONNECTING', 'CLOSED'],
  CONNECTING: ['OPEN', 'RECONNECTING', 'CLOSED'],
  OPEN: ['RECONNECTING', 'CLOSED'],
  RECONNECTING: ['OPEN', 'CLOSED'],
  CLOSED: ['CONNECTING', 'RECONNECTING'],
});

export function wsTransitionAllowed(from: WsState, to: WsState): boolean {
  return WS_TRANSITIONS[from].includes(to);
}

export const DEFAULT_RECONNECT: Readonly<BackoffPolicy> = Object.freeze({ initialMs: 1000, maxMs: 30_000, jitter: 0.2 });

export interface WsSessionOptions {
  protocol: WsProtocol;
  clock: Clock;
  onFrame: (text: string, recvMs: number, source: string) => void;
  /** Frames the socket refuses (binary, over the size cap); the caller counts and records them. */
  onRefused: (reason: 'binary_frame' | 'oversized_frame', recvMs: number, source: string, raw: string) => void;
  onStateChange?: (state: WsState, detail: string) => void;
  onSilentStream?: (stream: string, silentForMs: number) => void;
  staleAfterMs?: number;
  rotateAfterMs?: number;
  backoff?: Partial<BackoffPolicy> & { healthyAfterMs?: number };
  /** Frame size cap for the socket itself; the normalizer enforces the finer limit. */
  maxPayloadBytes?: number;
  /** How often the stall and cadence checks run. */
  livenessEveryMs?: number;
}

interface Conn {
  ws: WebSocket;
  openedAt: number;
  firstDataAt: number | null;
  lastFrameAt: number;
  retiring: boolean;
  /** When the next control message may leave. */
  nextControlAt: number;
  lastError?: string;
}

/** A failed rotation attempt is retried after this long; the current connection serves meanwhile. */
const ROTATION_RETRY_MS = 30_000;
/** A close handshake that does not finish in this long is cut. */
const CLOSE_GRACE_MS = 2000;

export class WsSession {
  state: WsState = 'IDLE';
  reconnects = 0;
  /** Connections opened so far (rotations included). */
  connectAttempts = 0;
  /** WebSocket messages received on any connection, whatever became of them. */
  received = 0;
  lastMsgMs: number | null = null;
  readonly perStream = new Map<string, StreamStatus>();
  readonly url: string;

  private readonly clock: Clock;
  private readonly protocol: WsProtocol;
  private current: Conn | null = null;
  private next: Conn | null = null;
  private backoff: Backoff;
  private stopped = false;
  private readonly timers = new Set<Timer>();
  private watchdog: Timer | null = null;
  private readonly resubscribed = new Set<string>();

  constructor(private readonly opts: WsSessionOptions) {
    this.clock = opts.clock;
    this.protocol = opts.protocol;
    this.url = opts.protocol.url;
    const b = opts.backoff ?? {};
    this.backoff = Backoff.start({
      initialMs: b.initialMs ?? DEFAULT_RECONNECT.initialMs,
      maxMs: b.maxMs ?? DEFAULT_RECONNECT.maxMs,
      jitter: b.jitter ?? DEFAULT_RECONNECT.jitter,
    });
    for (const s of this.protocol.streams) {
      this.perStream.set(s, { state: 'WAITING', last_msg_ms: null, msgs: 0, silence_limit_ms: finiteOr(this.protocol.silenceLimitMs(s), 0) });
    }
  }

  /** A make-before-break rotation is under way (its new connection has not taken over yet). */
  get rotating(): boolean {
    return this.next !== null;
  }

  start(): void {
    this.stopped = false;
    this.connect(false);
    this.watchdog = this.clock.every(this.opts.livenessEveryMs ?? 1000, () => this.checkLiveness());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.watchdog?.cancel();
    for (const t of this.timers) t.cancel();
    this.timers.clear();
    const closing = [this.current, this.next].filter((c): c is Conn => c !== null);
    this.current = null;
    this.next = null;
    await Promise.all(closing.map((c) => closeConn(c.ws, this.clock)));
    this.setState('CLOSED', 'stopped');
  }

  private later(ms: number, fn: () => void): void {
    const t = this.clock.after(ms, () => {
      this.timers.delete(t);
      fn();
    });
    this.timers.add(t);
  }

  private setState(s: WsState, detail: string): void {
    if (this.state === s || !wsTransitionAllowed(this.state, s)) return;
    this.state = s;
    this.opts.onStateChange?.(s, detail);
  }

  /** Open a connection. `rotation`: make-before-break, the current one keeps serving meanwhile. */
  private connect(rotation: boolean): void {
    if (this.stopped) return;
    if (!rotation) this.setState(this.reconnects === 0 && this.current === null && this.backoff.attempt === 0 ? 'CONNECTING' : 'RECONNECTING', 'connecting');
    const ws = new WebSocket(this.url, { maxPayload: this.opts.maxPayloadBytes ?? 16 * 1024 * 1024, handshakeTimeout: 10_000 });
    const now = this.clock.now();
    this.connectAttempts++;
    const conn: Conn = { ws, openedAt: now, firstDataAt: null, lastFrameAt: now, retiring: false, nextControlAt: now };
    if (rotation) this.next = conn;
    else this.current = conn;
    const source = this.protocol.source;

    ws.on('open', () => {
      conn.lastFrameAt = this.clock.now();
      if (!rotation) this.setState('OPEN', `connected to ${this.url}`);
      this.subscribe(conn);
    });
    ws.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
      const recv = this.clock.now();
      this.received++;
      conn.lastFrameAt = recv;
      if (conn.retiring) return;
      const text = Buffer.isBuffer(data)
        ? data.toString('utf8')
        : Array.isArray(data)
          ? Buffer.concat(data).toString('utf8')
          : Buffer.from(data).toString('utf8');
      if (isBinary) {
        this.opts.onRefused('binary_frame', recv, source, text);
        return;
      }
      const kind = this.protocol.classify(text);
      if (kind.kind === 'control') {
        // Control replies are recorded too (they explain later silences) but are not market data.
        this.opts.onFrame(text, recv, source);
        return;
      }
      if (conn === this.next) this.promote(conn);
      if (conn !== this.current) return;
      if (conn.firstDataAt === null) conn.firstDataAt = recv;
      this.lastMsgMs = recv;
      if (kind.stream !== null) this.noteStream(kind.stream, recv);
      this.opts.onFrame(text, recv, source);
    });
    ws.on('ping', () => {
      conn.lastFrameAt = this.clock.now();
    });
    ws.on('error', (err: Error) => {
      // 'close' follows; the error text is kept for the state detail.
      if (err.message.includes('Max payload')) this.opts.onRefused('oversized_frame', this.clock.now(), source, '');
      conn.lastError = err.message;
    });
    ws.on('close', (code: number, reason: Buffer) => this.onClose(conn, code, reason.toString() || conn.lastError || ''));
    if (!rotation && this.opts.rotateAfterMs !== undefined) {
      this.later(this.opts.rotateAfterMs, () => this.rotate());
    }
  }

  private subscribe(conn: Conn): void {
    for (const msg of this.protocol.subscribeMessages()) this.sendControl(conn, msg);
  }

  /** Queue a control message: it leaves `controlGapMs` after the previous one on this connection, at the earliest. */
  private sendControl(conn: Conn, msg: string): void {
    const now = this.clock.now();
    const at = Math.max(now, conn.nextControlAt);
    conn.nextControlAt = at + this.protocol.controlGapMs;
    this.later(at - now, () => {
      if (conn.ws.readyState === WebSocket.OPEN) conn.ws.send(msg);
    });
  }

  private noteStream(stream: string, recv: number): void {
    const st = this.perStream.get(stream);
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
      void closeConn(old.ws, this.clock);
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
      this.later(ROTATION_RETRY_MS, () => this.rotate());
      return;
    }
    if (conn !== this.current) return;
    this.current = null;
    const now = this.clock.now();
    if (conn.firstDataAt !== null && now - conn.firstDataAt >= (this.opts.backoff?.healthyAfterMs ?? 60_000)) this.backoff = this.backoff.reset();
    const { delayMs, backoff } = this.backoff.next(this.clock.random());
    this.backoff = backoff;
    this.reconnects++;
    this.setState('RECONNECTING', `closed (code ${code}${reason ? `, ${reason}` : ''}); retry in ${delayMs} ms`);
    for (const st of this.perStream.values()) if (st.state === 'FLOWING') st.state = 'WAITING';
    this.resubscribed.clear();
    this.later(delayMs, () => this.connect(false));
  }

  /** Every `livenessEveryMs`: the whole-connection stall check and the per-stream cadence check. */
  private checkLiveness(): void {
    const conn = this.current;
    if (this.stopped || conn === null || conn.ws.readyState !== WebSocket.OPEN) return;
    const now = this.clock.now();
    const stale = this.opts.staleAfterMs ?? 30_000;
    if (now - conn.lastFrameAt > stale) {
      // Half-open sockets never deliver a close; terminate() does not wait for one.
      conn.ws.terminate();
      return;
    }
    const subscribedFor = now - conn.openedAt;
    const again: string[] = [];
    for (const [name, st] of this.perStream) {
      const limit = st.silence_limit_ms;
      if (limit <= 0) continue;
      const since = st.last_msg_ms === null ? subscribedFor : now - Math.max(st.last_msg_ms, conn.openedAt);
      if (since > limit && st.state !== 'SILENT') {
        st.state = 'SILENT';
        this.opts.onSilentStream?.(name, since);
        if (!this.resubscribed.has(name)) {
          this.resubscribed.add(name);
          again.push(name);
        }
      }
    }
    // Ten streams silent at once must not become ten messages at once: Binance cuts a connection
    // that sends more than 10 messages a second.
    if (again.length > 0) for (const msg of this.protocol.resubscribeMessages(again)) this.sendControl(conn, msg);
  }
}

function finiteOr(x: number, fallback: number): number {
  return Number.isFinite(x) ? x : fallback;
}

function closeConn(ws: WebSocket, clock: Clock): Promise<void> {
  return new Promise((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) return resolve();
    const t = clock.after(CLOSE_GRACE_MS, () => {
      ws.terminate();
      resolve();
    });
    ws.once('close', () => {
      t.cancel();
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
