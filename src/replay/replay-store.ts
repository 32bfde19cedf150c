/**
 * A replay's promoted events written to an event store of its own (`replay --db FILE`), as a run
 * with mode REPLAY whose source is the capture files: the same rows a live run writes, so the two
 * compare with one SQL query (README "Export").
 */
import { RULE_SET_ID, RULE_SET_VERSION } from '../core/constants';
import type { PromotedEvent } from '../core/contracts/promoted';
import { APP_VERSION, configHash } from '../store/run-info';
import { EventStore } from '../store/store';
import { wallClock } from '../clock/clock';

/** Events are committed in batches of this many (a replay promotes thousands per second at most). */
const BATCH = 1_000;

export interface ReplayStored {
  path: string;
  run_id: string;
  inserted: number;
  duplicates: number;
  /** Set when the store failed part way: what failed and what to do. */
  error: string | null;
}

export class ReplayStoreWriter {
  private batch: PromotedEvent[] = [];
  private inserted = 0;
  private duplicates = 0;
  private error: string | null = null;

  private constructor(
    private readonly store: EventStore,
    readonly runId: string,
    /** Set when the store cannot be opened: nothing is written. */
    readonly fault: string | null,
  ) {}

  static open(path: string, files: readonly string[], symbols: readonly string[] | null, nowMs = wallClock.now()): ReplayStoreWriter {
    const store = EventStore.open({ path, synchronous: 'NORMAL' }, nowMs);
    const runId = `replay-${new Date(nowMs).toISOString().replace(/[-:.]/g, '')}-${process.pid}`;
    if (store.status.fault !== null) return new ReplayStoreWriter(store, runId, store.status.fault.message);
    const r = store.startRun(
      {
        run_id: runId,
        started_ms: nowMs,
        mode: 'REPLAY',
        symbols: symbols ? [...symbols] : [],
        rule_set: { id: RULE_SET_ID, version: RULE_SET_VERSION },
        config_hash: configHash({ files, symbols }),
        app_version: APP_VERSION,
        source: files.join(' '),
      },
      nowMs,
    );
    return new ReplayStoreWriter(store, runId, r.ok ? null : r.fault.message);
  }

  add(e: PromotedEvent): void {
    this.batch.push(e);
    if (this.batch.length >= BATCH) this.flush();
  }

  private flush(): void {
    if (this.batch.length === 0 || this.error !== null) return;
    const r = this.store.persist({ events: this.batch }, wallClock.now());
    this.batch = [];
    if (r.ok) {
      this.inserted += r.events_inserted;
      this.duplicates += r.duplicates;
    } else this.error = r.fault.message;
  }

  /** Writes the rest, records the run's symbols, ends the run cleanly and closes the file. */
  finish(symbols: readonly string[]): ReplayStored {
    this.store.setRunSymbols(symbols);
    this.flush();
    const r = this.store.close(wallClock.now());
    if (!r.ok && this.error === null) this.error = r.fault.message;
    return { path: this.store.path, run_id: this.runId, inserted: this.inserted, duplicates: this.duplicates, error: this.error };
  }
}
