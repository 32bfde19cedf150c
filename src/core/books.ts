/**
 * Order books as the core sees them, whatever the exchange: frames in (each with one outcome), the
 * book as of a window's end out (for the policy), a status section for the snapshot. The Binance
 * adapter's `BookRoom` (src/binance/book) implements it; an adapter offers its books through
 * `ExchangeAdapter.books`. Pure: a book that needs a REST snapshot says so as a value
 * (`takeRequests`), and the driver (collector, simulator test) fetches it and feeds the body back
 * as a frame; replay only drains the requests, since the capture holds the bodies that were fetched.
 */
import type { BooksSection } from './contracts/books';
import type { BookAsOf } from './policy/book-sample';
import type { Frame } from './source';

/** What the books made of one frame: exactly one outcome, so a bad depth frame is never dropped silently. */
export type BookFrameResult =
  | { kind: 'not_depth' }
  | { kind: 'diff'; symbol: string }
  | { kind: 'snapshot'; symbol: string }
  /** A snapshot body that names no symbol, held until its capture file's first diff says whose it is. */
  | { kind: 'snapshot_held' }
  /** A snapshot body that could not be given to any book (counted). */
  | { kind: 'snapshot_unattributed' }
  | { kind: 'not_allowed'; symbol: string }
  /** A new connection on the depth route (core/source CONNECTION_OPEN): every book resyncs. */
  | { kind: 'connection_open' }
  /** Dead-lettered by the caller with this reason. */
  | { kind: 'malformed'; reason: string };

/** A book wants a REST snapshot; `weight` is its cost in the shared request-weight budget. */
export interface BookSnapshotRequest {
  symbol: string;
  reason: string;
  weight: number;
}

export interface OrderBooks extends BookAsOf {
  /** One frame; `file` is the capture file it came from (replay of foreign captures; live frames leave it out). */
  ingestFrame(frame: Frame, file?: number): BookFrameResult;
  /** `symbol`'s window ending before `windowEndMs` has closed: its as-of samples are no longer needed. */
  forgetSamplesBefore(windowEndMs: number, symbol?: string): void;
  /** Snapshot requests since the last call, oldest first. */
  takeRequests(): BookSnapshotRequest[];
  /** The snapshot's `books` section; `nowMs` is local time (ages). */
  status(nowMs: number): BooksSection;
}

export interface BooksOptions {
  /** The frozen allow-list; a book per symbol. */
  symbols: readonly string[];
  /** Depth band sampled as of each window end (the policy's), basis points of mid. */
  sampleDepthBps: number;
}
