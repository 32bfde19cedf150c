/**
 * A depth client for the loopback simulator, wired the way the live collector will wire /public
 * (SPEC §18, BINANCE.md §8): one `/public/stream` connection carrying `<s>@depth@100ms` for every
 * symbol, every frame handed on with the simulator's clock as its receive time, the books'
 * snapshot requests fetched over REST and their bodies handed on as `rest:` frames, and a timer
 * that lets deferred requests come due. Optionally a `/market` connection too, so a pipeline gets
 * trades to close windows with.
 *
 * For comparisons it can hold frames back (`pause`) while it asks the simulator for its own book,
 * then apply them one by one until the client's book stands at exactly that book's update id.
 */
import { expect } from 'vitest';
import WebSocket from 'ws';
import { BOOK } from '../src/binance/book/constants';
import type { BookRoom } from '../src/binance/book/book-room';
import type { DepthSnapshot } from '../src/binance/book/contracts';
import { snapshotPath } from '../src/binance/book/order-book';
import { depthStreams } from '../src/binance/streams';
import type { Frame } from '../src/core/source';
import type { SimulatorHandle } from '../src/simulator/types';

export { depthStreams };

export interface DepthClientOptions {
  sim: SimulatorHandle;
  symbols: readonly string[];
  /** The books whose snapshot requests this client serves. */
  books: BookRoom;
  /** Every frame, in arrival order (default: straight into `books`); a pipeline that owns `books` goes here. */
  onFrame?: (f: Frame) => void;
  /** Streams for a `/market/stream` connection opened beside /public. */
  marketStreams?: readonly string[];
}

export type Levels = [string, string][];

export type BothBooks = NonNullable<Awaited<ReturnType<DepthClient['bothBooks']>>>;

export class DepthClient {
  /** The last snapshot body handed to the books, per symbol. */
  readonly lastSnapshot = new Map<string, DepthSnapshot>();
  readonly restStatuses: number[] = [];
  private readonly sockets: WebSocket[] = [];
  private readonly onFrame: (f: Frame) => void;
  private held: Frame[] | null = null;
  private readonly timer: NodeJS.Timeout;
  private inFlight = 0;
  private closed = false;

  private constructor(private readonly opts: DepthClientOptions) {
    this.onFrame = opts.onFrame ?? ((f) => opts.books.ingestFrame(f));
    this.timer = setInterval(() => {
      opts.books.poll(opts.sim.now());
      this.drain();
    }, 25);
  }

  static async open(opts: DepthClientOptions): Promise<DepthClient> {
    const c = new DepthClient(opts);
    const urls = [{ url: `${opts.sim.wsUrl}/public/stream?streams=${depthStreams(opts.symbols).join('/')}`, source: 'ws:/public/stream' }];
    if (opts.marketStreams) urls.push({ url: `${opts.sim.wsUrl}/market/stream?streams=${opts.marketStreams.join('/')}`, source: 'ws:/market/stream' });
    await Promise.all(
      urls.map(
        ({ url, source }) =>
          new Promise<void>((res, rej) => {
            const ws = new WebSocket(url);
            c.sockets.push(ws);
            ws.on('message', (d: WebSocket.RawData) => c.receive({ recv_ms: opts.sim.now(), source, text: d.toString() }));
            ws.once('open', () => res());
            ws.once('error', rej);
          }),
      ),
    );
    return c;
  }

  get books(): BookRoom {
    return this.opts.books;
  }

  /** Hold frames back from now on (they queue in arrival order). */
  pause(): void {
    this.held ??= [];
  }

  /** Hand held frames on one at a time while `until` is false; then stop holding. True when `until` became true. */
  resume(until: () => boolean = () => false): boolean {
    const q = this.held ?? [];
    this.held = null;
    let met = until();
    while (q.length > 0 && !met) {
      this.handle(q.shift() as Frame);
      met = until();
    }
    if (q.length > 0) this.held = q;
    return met;
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    for (const ws of this.sockets) ws.terminate();
  }

  private receive(f: Frame): void {
    if (this.held !== null) this.held.push(f);
    else this.handle(f);
  }

  private handle(f: Frame): void {
    if (f.source.startsWith('rest:'))
      this.lastSnapshot.set(new URLSearchParams(f.source.slice(f.source.indexOf('?'))).get('symbol') ?? '', JSON.parse(f.text) as DepthSnapshot);
    this.onFrame(f);
    this.drain();
  }

  /** Fetch every snapshot the books asked for; a failure is reported back to them. */
  private drain(): void {
    for (const r of this.opts.books.takeRequests()) {
      const path = snapshotPath(r);
      this.inFlight++;

      void fetch(`${this.opts.sim.restUrl}${path}`)
        .then(async (res) => {
          const text = await res.text();
          this.restStatuses.push(res.status);
          if (this.closed) return;
          if (res.status === 200) this.receive({ recv_ms: this.opts.sim.now(), source: `rest:${path}`, text });
          else this.opts.books.snapshotFailed(r.symbol, this.opts.sim.now());
        })
        .catch(() => {
          if (!this.closed) this.opts.books.snapshotFailed(r.symbol, this.opts.sim.now());
        })
        .finally(() => this.inFlight--);
    }
  }

  /**
   * The simulator's own book of `symbol` (its REST body) and the client's at exactly that update
   * id: frames are held while the simulator answers, then applied one by one until the client's
   * book stands at the body's `lastUpdateId`. Null when the client's book never stood there (it
   * skipped past it, e.g. resyncing); the caller tries again.
   */
  async bothBooks(symbol: string, timeoutMs = 5000): Promise<{ sim: DepthSnapshot; client: { bids: Levels; asks: Levels }; snapshot: DepthSnapshot } | null> {
    const book = this.opts.books.book(symbol);
    if (book === undefined) throw new Error(`no book for ${symbol}`);
    this.pause();
    const res = await fetch(`${this.opts.sim.restUrl}/fapi/v1/depth?symbol=${symbol}&limit=1000`);
    const sim = (await res.json()) as DepthSnapshot;
    const at = (): boolean => book.state === 'LIVE' && book.lastUpdateId !== null && book.lastUpdateId >= sim.lastUpdateId;
    const t0 = Date.now();
    while (!this.resume(at)) {
      if (Date.now() - t0 > timeoutMs) return null;
      this.pause();
      await new Promise((r) => setTimeout(r, 10));
    }
    if (book.lastUpdateId !== sim.lastUpdateId) return null;
    const lv = (side: 'bids' | 'asks'): Levels => book.levels(side).map((l) => [l.price, l.qty]);
    const snapshot = this.lastSnapshot.get(symbol);
    if (snapshot === undefined) throw new Error(`${symbol}: live without a snapshot?`);
    return { sim, client: { bids: lv('bids'), asks: lv('asks') }, snapshot };
  }
}

/** Poll `cond` until it holds (the simulator runs on the wall clock; nothing here can be advanced by hand). */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The deepest bid and ask of a REST depth body (how far down a client that loaded it knows the book). */
export function deepestOf(body: { bids: Levels; asks: Levels }): { deepest_bid: string | null; deepest_ask: string | null } {
  return { deepest_bid: body.bids[body.bids.length - 1]?.[0] ?? null, deepest_ask: body.asks[body.asks.length - 1]?.[0] ?? null };
}

export interface SameBookInput {
  /** The simulator's own book (its REST body) at the client's update id. */
  sim: { bids: Levels; asks: Levels };
  client: { bids: Levels; asks: Levels };
  /** The deepest levels of the last snapshot the client loaded. */
  snapshot: { deepest_bid: string | null; deepest_ask: string | null };
}

/**
 * The client's book equals the simulator's level for level over the range both know exactly: from
 * the best price to the shallowest of the simulator's 1000th level, the client's last snapshot's
 * (beyond its snapshot, a client knows only the levels diffs touched since: BINANCE.md §8) and the
 * client's prune band less 1 % (the mid moves; a level once pruned is not known again). Returns the
 * number of levels compared.
 */
export function expectSameBook(b: SameBookInput, what: string): number {
  let compared = 0;
  const mid = (Number(b.sim.bids[0]?.[0]) + Number(b.sim.asks[0]?.[0])) / 2;
  const band = BOOK.PRUNE_BAND - 0.01;
  for (const side of ['bids', 'asks'] as const) {
    const deepest = (lv: Levels): number => Number((lv[lv.length - 1] as [string, string])[0]);
    const snap = Number(side === 'bids' ? b.snapshot.deepest_bid : b.snapshot.deepest_ask);
    const bound = side === 'bids' ? Math.max(deepest(b.sim.bids), snap, mid * (1 - band)) : Math.min(deepest(b.sim.asks), snap, mid * (1 + band));
    const within = ([p]: [string, string]): boolean => (side === 'bids' ? Number(p) >= bound : Number(p) <= bound);
    const sim = b.sim[side].filter(within);
    expect(b.client[side].filter(within), `${what} ${side} (down to ${bound})`).toEqual(sim);
    compared += sim.length;
  }
  return compared;
}
