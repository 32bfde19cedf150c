/**
 * The reference consumer of the Redis streams (SPEC §22; `peak-pressure consume redis://…`), and
 * the pattern a user's own M6 consumer follows:
 *
 * - a consumer group (created at the start of the stream when missing), one named consumer per
 *   process: a restarted consumer of the same name first takes back what it had read but not
 *   acknowledged;
 * - entries another consumer left pending for longer than `claimIdleMs` (it crashed) are claimed
 *   with XAUTOCLAIM;
 * - every entry is checked against its contract; one that fails goes to `<stream>:dlq` with the
 *   reason and is acknowledged — a poison pill never blocks the group (seed 004). So does an entry
 *   delivered more than `maxDeliveries` times (its handler keeps failing or crashing);
 * - duplicates (the sink delivers at least once) are recognised by type and id, remembered in
 *   Redis for `dedupeTtlS` so a restart does not forget them, and acknowledged without handling.
 *
 * An entry is acknowledged only after its handler returned: at least once towards the handler.
 */
import Redis from 'ioredis';
import { type Clock, wallClock } from '../clock/clock';
import { checkEntry, DLQ_SUFFIX, fieldsOf, STREAM_KEYS, STREAM_MAXLEN, type StreamEntry, type StreamName } from './redis-streams';

export interface ConsumerOptions {
  url: string;
  group: string;
  consumer: string;
  streams: readonly StreamName[];
  /** Called once per new entry (not for duplicates); a throw leaves the entry pending (retried, then dead-lettered). */
  onEntry: (entry: StreamEntry, meta: { entryId: string }) => void | Promise<void>;
  /** Entries per read. */
  count?: number;
  /** How long one read waits for new entries. */
  blockMs?: number;
  /** Entries pending this long at another consumer are taken over. */
  claimIdleMs?: number;
  /** How often idle entries are looked for. */
  claimEveryMs?: number;
  maxDeliveries?: number;
  dedupeTtlS?: number;
  /** Where a new group starts: '0' (the whole stream) or '$' (only entries added from now on). */
  startAt?: '0' | '$';
  /** Called when an entry is dead-lettered (the CLI prints it on stderr). */
  onDeadLetter?: (stream: StreamName, entryId: string, reason: string) => void;
  /** When to look for idle entries again (default: the wall clock). */
  clock?: Clock;
}

export interface ConsumerStats {
  handled: number;
  duplicates: number;
  dead_lettered: number;
  /** Entries taken over from idle consumers (or from this consumer's earlier life). */
  claimed: number;
  /** Pending entries whose data was trimmed from the stream (acknowledged, nothing to handle). */
  vanished: number;
  handler_errors: number;
}

type Flat = string[];
type RawEntry = [string, Flat | null];

function asEntries(x: unknown): RawEntry[] {
  if (!Array.isArray(x)) return [];
  return x.filter((e): e is RawEntry => Array.isArray(e) && typeof e[0] === 'string' && (e[1] === null || Array.isArray(e[1])));
}

const SEEN_PREFIX = 'peak-pressure:consumer:';

export class StreamConsumer {
  readonly stats: ConsumerStats = { handled: 0, duplicates: 0, dead_lettered: 0, claimed: 0, vanished: 0, handler_errors: 0 };
  private readonly client: Redis;
  private readonly o: Required<Omit<ConsumerOptions, 'onDeadLetter'>> & Pick<ConsumerOptions, 'onDeadLetter'>;
  private ownPendingDone = false;
  private nextClaimMs = 0;
  private closed = false;

  constructor(opts: ConsumerOptions) {
    this.o = {
      count: 100,
      blockMs: 2_000,
      claimIdleMs: 60_000,
      claimEveryMs: 5_000,
      maxDeliveries: 5,
      dedupeTtlS: 7 * 24 * 3600,
      startAt: '0',
      clock: wallClock,
      ...opts,
    };
    this.client = new Redis(opts.url, { lazyConnect: true, maxRetriesPerRequest: 2 });
    this.client.on('error', () => undefined);
  }

  /** Connects and creates the group on each stream when it does not exist yet. */
  async init(): Promise<void> {
    await this.client.connect();
    for (const s of this.o.streams) {
      try {
        await this.client.xgroup('CREATE', STREAM_KEYS[s], this.o.group, this.o.startAt, 'MKSTREAM');
      } catch (e) {
        if (!String((e as Error).message).startsWith('BUSYGROUP')) throw e;
      }
    }
  }

  /** One round: this consumer's own pending entries (first round only), idle ones of others (every claimEveryMs), then new ones. Returns entries seen. */
  async poll(nowMs = this.o.clock.now()): Promise<number> {
    let n = 0;
    if (!this.ownPendingDone) {
      n += await this.takeBackOwn();
      this.ownPendingDone = true;
    }
    if (nowMs >= this.nextClaimMs) {
      n += await this.claimIdle();
      this.nextClaimMs = nowMs + this.o.claimEveryMs;
    }
    return n + (await this.readNew());
  }

  /** Polls until `signal` aborts; with `exitWhenIdle`, also returns after the first round that saw nothing. */
  async run(signal: AbortSignal, exitWhenIdle = false): Promise<void> {
    while (!signal.aborted && !this.closed) {
      const n = await this.poll();
      if (n === 0 && exitWhenIdle) return;
    }
  }

  private async takeBackOwn(): Promise<number> {
    let n = 0;
    for (const s of this.o.streams) {
      const key = STREAM_KEYS[s];
      for (;;) {
        const pending = (await this.client.call('XPENDING', key, this.o.group, '-', '+', this.o.count, this.o.consumer)) as unknown[];
        const ids = pending.filter((p): p is [string, string, number, number] => Array.isArray(p)).map((p) => p[0]);
        if (ids.length === 0) break;
        // XCLAIM to itself: counts the delivery, so an entry that crashes its consumer every time reaches maxDeliveries.
        const entries = asEntries(await this.client.call('XCLAIM', key, this.o.group, this.o.consumer, 0, ...ids));
        const got = new Set(entries.map((e) => e[0]));
        for (const id of ids) if (!got.has(id)) await this.vanished(s, id);
        await this.handleAll(s, entries, true);
        n += ids.length;
        this.stats.claimed += entries.length;
      }
    }
    return n;
  }

  private async claimIdle(): Promise<number> {
    let n = 0;
    for (const s of this.o.streams) {
      const key = STREAM_KEYS[s];
      let cursor = '0-0';
      // Bounded: a huge backlog of idle entries is taken over across rounds, not in one.
      for (let round = 0; round < 10; round++) {
        const r = (await this.client.call('XAUTOCLAIM', key, this.o.group, this.o.consumer, this.o.claimIdleMs, cursor, 'COUNT', this.o.count)) as unknown[];
        cursor = typeof r[0] === 'string' ? r[0] : '0-0';
        const entries = asEntries(r[1]);
        // Redis 7 lists the pending ids whose entries were trimmed; it has already dropped them from the group.
        if (Array.isArray(r[2])) this.stats.vanished += r[2].length;
        this.stats.claimed += entries.length;
        await this.handleAll(s, entries, true);
        n += entries.length;
        if (cursor === '0-0') break;
      }
    }
    return n;
  }

  private async readNew(): Promise<number> {
    const keys = this.o.streams.map((s) => STREAM_KEYS[s]);
    const r = (await this.client.call(
      'XREADGROUP',
      'GROUP',
      this.o.group,
      this.o.consumer,
      'COUNT',
      this.o.count,
      'BLOCK',
      this.o.blockMs,
      'STREAMS',
      ...keys,
      ...keys.map(() => '>'),
    )) as unknown;
    if (!Array.isArray(r)) return 0;
    let n = 0;
    for (const part of r as unknown[]) {
      if (!Array.isArray(part) || typeof part[0] !== 'string') continue;
      const stream = this.o.streams.find((s) => STREAM_KEYS[s] === part[0]);
      if (stream === undefined) continue;
      const entries = asEntries(part[1]);
      await this.handleAll(stream, entries, false);
      n += entries.length;
    }
    return n;
  }

  /** Delivery counts of entries just claimed (XPENDING over their id range, this consumer only). */
  private async deliveries(key: string, entries: readonly RawEntry[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (entries.length === 0) return out;
    const first = (entries[0] as RawEntry)[0];
    const last = (entries[entries.length - 1] as RawEntry)[0];
    const rows = (await this.client.call('XPENDING', key, this.o.group, first, last, entries.length * 2, this.o.consumer)) as unknown[];
    for (const p of rows) if (Array.isArray(p) && typeof p[0] === 'string' && typeof p[3] === 'number') out.set(p[0], p[3]);
    return out;
  }

  private async handleAll(stream: StreamName, entries: readonly RawEntry[], claimed: boolean): Promise<void> {
    const counts = claimed ? await this.deliveries(STREAM_KEYS[stream], entries) : null;
    for (const [entryId, flat] of entries) {
      if (flat === null) await this.vanished(stream, entryId);
      else await this.handle(stream, entryId, flat, counts?.get(entryId) ?? 1);
    }
  }

  private async vanished(stream: StreamName, entryId: string): Promise<void> {
    await this.client.xack(STREAM_KEYS[stream], this.o.group, entryId);
    this.stats.vanished++;
  }

  private async handle(stream: StreamName, entryId: string, flat: Flat, deliveries: number): Promise<void> {
    const key = STREAM_KEYS[stream];
    const fields = fieldsOf(flat);
    if (deliveries > this.o.maxDeliveries) {
      await this.deadLetter(stream, entryId, fields, `delivered ${deliveries} times without being acknowledged (its handler failed or crashed each time)`);
      return;
    }
    const c = checkEntry(stream, fields);
    if (!c.ok) {
      await this.deadLetter(stream, entryId, fields, c.reason);
      return;
    }
    const seen = `${SEEN_PREFIX}${this.o.group}:seen:${stream}:${c.entry.type}:${c.entry.id}`;
    if ((await this.client.exists(seen)) === 1) {
      await this.client.xack(key, this.o.group, entryId);
      this.stats.duplicates++;
      return;
    }
    try {
      await this.o.onEntry(c.entry, { entryId });
    } catch {
      // Left pending: taken up again after claimIdleMs, dead-lettered after maxDeliveries.
      this.stats.handler_errors++;
      return;
    }
    const r = await this.client.multi().set(seen, '1', 'EX', this.o.dedupeTtlS).xack(key, this.o.group, entryId).exec();
    const failed = r?.find(([err]) => err !== null);
    if (failed) throw failed[0] as Error;
    this.stats.handled++;
  }

  private async deadLetter(stream: StreamName, entryId: string, fields: Record<string, string>, reason: string): Promise<void> {
    const key = STREAM_KEYS[stream];
    const r = await this.client
      .multi()
      .xadd(
        `${key}${DLQ_SUFFIX}`,
        'MAXLEN',
        '~',
        STREAM_MAXLEN,
        '*',
        'reason',
        reason,
        'source_stream',
        key,
        'source_entry',
        entryId,
        'group',
        this.o.group,
        'consumer',
        this.o.consumer,
        'fields',
        JSON.stringify(fields),
      )
      .xack(key, this.o.group, entryId)
      .exec();
    const failed = r?.find(([err]) => err !== null);
    if (failed) throw failed[0] as Error;
    this.stats.dead_lettered++;
    this.o.onDeadLetter?.(stream, entryId, reason);
  }

  close(): void {
    this.closed = true;
    this.client.disconnect(false);
  }
}
