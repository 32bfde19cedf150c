/**
 * The books of the allowed symbols, fed with raw frames (the same `Frame`s the engine sees): depth
 * diffs from `<s>@depth[@<n>ms]` streams and REST `GET /fapi/v1/depth` bodies. Pure: snapshot
 * requests come back as values (`takeRequests`), and every frame gets exactly one outcome, so a bad
 * depth frame is counted and handed back for the dead-letter file, never dropped silently.
 *
 * Which book a REST body belongs to: our captures name it in the source
 * (`rest:/fapi/v1/depth?symbol=BTCUSDT&limit=1000`). Foreign captures (hftbacktest) do not, and
 * their update ids are shared across symbols, so an id cannot tell either; there, one file holds one
 * symbol's depth, and an unlabelled body goes to the depth symbol of its own file (held until that
 * file's first diff when it comes first). A file with two depth symbols leaves it unattributed
 * (counted).
 */
import type { BookFrameResult, BooksOptions, OrderBooks } from '../../core/books';
import type { BookStatus, BooksSection } from '../../core/contracts/books';
import { CONNECTION_OPEN, type Frame, LOCAL_SOURCE_PREFIX } from '../../core/source';
import type { BookSample } from '../../core/policy/book-sample';
import { type DepthSnapshot, DepthSnapshotSchema, type DepthUpdate, DepthUpdateSchema, isDepthSnapshot, isDepthUpdate } from './contracts';
import { scanDepthEnvelope, scanDepthUpdate } from './depth-scan';
import { OrderBook, type SnapshotRequest } from './order-book';

/**
 * One outcome per frame (core/books): `snapshot_held` is an unlabelled REST body waiting for its
 * file's first diff, `snapshot_unattributed` one from a file with more than one depth symbol.
 */
export type DepthFrameResult = BookFrameResult;
export type BookRoomOptions = BooksOptions;

export interface BookRoomCounters {
  depth_frames: number;
  diffs: number;
  snapshots: number;
  malformed: number;
  not_allowed: number;
  snapshots_unattributed: number;
  connections: number;
}

const STREAM_PREFIX = '{"stream":"';
const REST_DEPTH = 'rest:/fapi/v1/depth';
/** Diff depth lives on the /public route (BINANCE.md §1): a new connection there invalidates every book. */
export const DEPTH_ROUTE = '/public/stream';
const PUBLIC_LOCAL = `${LOCAL_SOURCE_PREFIX}${DEPTH_ROUTE}`;

/**
 * `btcusdt@depth`, `…@depth@100ms`, `…@depth@0ms` are diff streams; partial-depth streams
 * (`@depth5`, `@depth10@100ms`, …) carry whole top-N books with the same event name and are not.
 */
function diffStreamSymbol(stream: string): string | null {
  const at = stream.indexOf('@depth');
  if (at <= 0) return null;
  const rest = stream.slice(at + 6);
  if (rest !== '' && !/^@\d+ms$/.test(rest)) return null;
  return stream.slice(0, at).toUpperCase();
}

function schemaReason(kind: string, r: { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } }): string {
  const issue = r.error?.issues[0];
  const path = issue && issue.path.length > 0 ? issue.path.map(String).join('.') : '(root)';
  return `schema_violation:${kind}: ${path}: ${issue ? issue.message : 'invalid'}`;
}

function symbolOfRestSource(source: string): string | null {
  const q = source.indexOf('?');
  if (q < 0) return null;
  for (const part of source.slice(q + 1).split('&')) if (part.startsWith('symbol=')) return part.slice(7).toUpperCase();
  return null;
}

export class BookRoom implements OrderBooks {
  readonly counters: BookRoomCounters = { depth_frames: 0, diffs: 0, snapshots: 0, malformed: 0, not_allowed: 0, snapshots_unattributed: 0, connections: 0 };
  private readonly books = new Map<string, OrderBook>();
  private readonly ordered: OrderBook[];
  private requests: SnapshotRequest[] = [];
  /** Depth symbol seen in each capture file (null: more than one). */
  private readonly fileSymbol = new Map<number, string | null>();
  /** Unlabelled snapshot of a file whose depth symbol is not known yet. */
  private readonly held = new Map<number, { snapshot: DepthSnapshot; recvMs: number }>();

  /**
   * `scan`: read diffs in the exchange's exact shape with ./depth-scan (default); false sends every
   * frame through JSON.parse and the validator (the reference the differential test compares with).
   */
  constructor(
    opts: BookRoomOptions,
    private readonly scan = true,
  ) {
    this.ordered = opts.symbols.map((s) => new OrderBook(s, { sampleDepthBps: opts.sampleDepthBps }));
    for (const b of this.ordered) this.books.set(b.symbol, b);
  }

  book(symbol: string): OrderBook | undefined {
    return this.books.get(symbol);
  }

  get booksInOrder(): readonly OrderBook[] {
    return this.ordered;
  }

  /** Snapshot requests since the last call, oldest first. */
  takeRequests(): SnapshotRequest[] {
    const out = this.requests;
    this.requests = [];
    return out;
  }

  sampleAt(symbol: string, windowEndMs: number): BookSample {
    return this.books.get(symbol)?.sampleAt(windowEndMs) ?? { live: false, reason: 'not_sampled' };
  }

  /** `symbol`'s book (every book when absent) forgets as-of samples for window ends before this (their windows have closed). */
  forgetSamplesBefore(windowEndMs: number, symbol?: string): void {
    if (symbol !== undefined) this.books.get(symbol)?.forgetSamplesBefore(windowEndMs);
    else for (const b of this.ordered) b.forgetSamplesBefore(windowEndMs);
  }

  /** Reconnect of the depth connection: every book resyncs. */
  invalidateAll(nowMs: number): void {
    for (const b of this.ordered) this.request(b.invalidate(nowMs));
  }

  /** The driver sent `symbol`'s snapshot request now (live only; see OrderBook.snapshotSent). */
  snapshotSent(symbol: string, nowMs: number): void {
    this.books.get(symbol)?.snapshotSent(nowMs);
  }

  /** The driver could not fetch `symbol`'s snapshot. */
  snapshotFailed(symbol: string, nowMs: number): void {
    const b = this.books.get(symbol);
    if (b !== undefined) this.request(b.snapshotFailed(nowMs));
  }

  /** Timer tick: deferred or unanswered requests may be due. */
  poll(nowMs: number): void {
    for (const b of this.ordered) this.request(b.poll(nowMs));
  }

  /**
   * One frame. `file` identifies the capture file it came from (replay of foreign captures; live
   * frames leave it out).
   */
  ingestFrame(frame: Frame, file = 0): DepthFrameResult {
    const text = frame.text;
    if (text.startsWith(STREAM_PREFIX)) {
      const end = text.indexOf('"', STREAM_PREFIX.length);
      const stream = end > 0 ? text.slice(STREAM_PREFIX.length, end) : '';
      const streamSymbol = diffStreamSymbol(stream);
      if (streamSymbol === null) return { kind: 'not_depth' };
      this.counters.depth_frames++;
      // The envelope in the exchange's exact shape: the diff is read in place (./depth-scan).
      const scanned = this.scan ? scanDepthEnvelope(text, end) : null;
      if (scanned !== null) return this.accept(scanned, streamSymbol, frame.recv_ms, file);
      let data: unknown;
      try {
        data = (JSON.parse(text) as { data?: unknown }).data;
      } catch {
        return this.malformed('invalid_json:depthUpdate');
      }
      return this.diff(data, streamSymbol, frame.recv_ms, file);
    }
    if (frame.source.startsWith(LOCAL_SOURCE_PREFIX)) {
      // The depth connection was replaced: recorded in the stream, so a replay resyncs at the same place.
      if (frame.source !== PUBLIC_LOCAL || text !== CONNECTION_OPEN) return { kind: 'not_depth' };
      this.counters.connections++;
      this.invalidateAll(frame.recv_ms);
      return { kind: 'connection_open' };
    }
    if (frame.source.startsWith(REST_DEPTH)) {
      this.counters.depth_frames++;
      return this.snapshot(text, symbolOfRestSource(frame.source), frame.recv_ms, file);
    }
    if (frame.source === '' && text.startsWith('{"lastUpdateId"')) {
      this.counters.depth_frames++;
      return this.snapshot(text, null, frame.recv_ms, file);
    }
    if (frame.source.startsWith('ws:') && frame.source.includes('/ws/')) {
      const streamSymbol = diffStreamSymbol(frame.source.slice(frame.source.lastIndexOf('/') + 1));
      if (streamSymbol === null) return { kind: 'not_depth' };
      this.counters.depth_frames++;
      const scanned = this.scan ? scanDepthUpdate(text, 0, text.length) : null;
      if (scanned !== null) return this.accept(scanned, streamSymbol, frame.recv_ms, file);
      let data: unknown;
      try {
        data = JSON.parse(text);
      } catch {
        return this.malformed('invalid_json:depthUpdate');
      }
      return this.diff(data, streamSymbol, frame.recv_ms, file);
    }
    return { kind: 'not_depth' };
  }

  /** Book status of every allowed symbol, for the snapshot (core/contracts/books). */
  status(nowMs: number): BooksSection {
    const per: Record<string, BookStatus> = {};
    for (const b of this.ordered) {
      const bb = b.bestBid();
      const ba = b.bestAsk();
      const c = b.counters;
      per[b.symbol] = {
        state: b.state,
        best_bid: bb?.price ?? null,
        best_ask: ba?.price ?? null,
        levels: b.levelCount,
        last_update_id: b.lastUpdateId,
        last_event_ms: b.lastEventMs,
        age_ms: b.ageMs(nowMs),
        buffered_diffs: b.bufferedDiffs,
        diffs_applied: c.diffs_applied,
        pu_gaps: c.pu_gaps,
        resyncs: c.resyncs,
        last_resync_reason: b.lastResyncReason,
        levels_pruned: c.levels_pruned,
        snapshots_applied: c.snapshots_applied,
        snapshots_stale: c.snapshots_stale,
        snapshot_requests: c.snapshot_requests,
        snapshot_failures: c.snapshot_failures,
      };
    }
    return { per_symbol: per, ...this.counters };
  }

  private malformed(reason: string): DepthFrameResult {
    this.counters.malformed++;
    return { kind: 'malformed', reason };
  }

  private request(r: SnapshotRequest | null): void {
    if (r !== null) this.requests.push(r);
  }

  private diff(data: unknown, streamSymbol: string, recvMs: number, file: number): DepthFrameResult {
    if (!isDepthUpdate(data)) return this.malformed(schemaReason('depthUpdate', DepthUpdateSchema.safeParse(data)));
    return this.accept(data, streamSymbol, recvMs, file);
  }

  /** A diff the contract accepts. */
  private accept(d: DepthUpdate, streamSymbol: string, recvMs: number, file: number): DepthFrameResult {
    if (d.s !== streamSymbol) return this.malformed(`stream_symbol_mismatch:${streamSymbol}:${d.s}`);
    this.noteFileSymbol(file, d.s);
    const book = this.books.get(d.s);
    if (book === undefined) {
      this.counters.not_allowed++;
      return { kind: 'not_allowed', symbol: d.s };
    }
    this.counters.diffs++;
    this.request(book.onDiff(d, recvMs));
    return { kind: 'diff', symbol: d.s };
  }

  private snapshot(text: string, labelled: string | null, recvMs: number, file: number): DepthFrameResult {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return this.malformed('invalid_json:depthSnapshot');
    }
    if (!isDepthSnapshot(body)) return this.malformed(schemaReason('depthSnapshot', DepthSnapshotSchema.safeParse(body)));
    this.counters.snapshots++;
    if (labelled !== null) return this.deliver(labelled, body, recvMs);
    const known = this.fileSymbol.get(file);
    if (known === undefined) {
      if (this.held.has(file)) this.counters.snapshots_unattributed++;
      this.held.set(file, { snapshot: body, recvMs });
      return { kind: 'snapshot_held' };
    }
    if (known === null) {
      this.counters.snapshots_unattributed++;
      return { kind: 'snapshot_unattributed' };
    }
    return this.deliver(known, body, recvMs);
  }

  private deliver(symbol: string, s: DepthSnapshot, recvMs: number): DepthFrameResult {
    const book = this.books.get(symbol);
    if (book === undefined) {
      this.counters.not_allowed++;
      return { kind: 'not_allowed', symbol };
    }
    this.request(book.onSnapshot(s, recvMs));
    return { kind: 'snapshot', symbol };
  }

  /** Learn a file's depth symbol; a held snapshot of that file is delivered before this diff. */
  private noteFileSymbol(file: number, symbol: string): void {
    const known = this.fileSymbol.get(file);
    if (known === symbol || known === null) return;
    if (known === undefined) {
      this.fileSymbol.set(file, symbol);
      const h = this.held.get(file);
      if (h !== undefined) {
        this.held.delete(file);
        this.deliver(symbol, h.snapshot, h.recvMs);
      }
      return;
    }
    this.fileSymbol.set(file, null);
  }
}
