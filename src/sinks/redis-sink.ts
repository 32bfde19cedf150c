/**
 * The Redis Streams sink (SPEC §22) on ioredis: each batch is one MULTI of `XADD <stream> MAXLEN ~
 * 100000 * id … type … json … observer … run …`, in outbox order. Commands never queue while the
 * server is away (no offline queue, nothing resent after a reconnect): a batch either reaches EXEC
 * or fails, and the delivery retries it from its cursor. A retry after an EXEC whose reply was lost
 * adds the batch again — at least once; consumers de-duplicate by id.
 */
import Redis from 'ioredis';
import { type DeliveryBatch, type DeliveryResult, type Sink, SinkError, errorLine } from './sink';
import { STREAM_KEYS, STREAM_MAXLEN } from './redis-streams';
import type { SinkSpec } from './spec';

export interface RedisSinkOptions {
  connectTimeoutMs?: number;
  /** A command without a reply for this long fails the batch (a stalled server). */
  commandTimeoutMs?: number;
}

export class RedisSink implements Sink {
  readonly kind = 'redis' as const;
  readonly name: string;
  private readonly client: Redis;
  private persistenceWarning: string | null = null;
  private checkedPersistence = false;

  constructor(spec: SinkSpec, opts: RedisSinkOptions = {}) {
    this.name = spec.name;
    this.client = new Redis(spec.url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      connectTimeout: opts.connectTimeoutMs ?? 5_000,
      commandTimeout: opts.commandTimeoutMs ?? 10_000,
      // ioredis reconnects by itself in the background; the delivery's own backoff paces the batches.
      retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 6), 5_000),
      enableReadyCheck: true,
    });
    // Connection errors surface as failed batches; without a listener ioredis would print each one.
    this.client.on('error', () => undefined);
  }

  private async ready(): Promise<void> {
    const s = this.client.status;
    if (s === 'ready') return;
    if (s === 'wait' || s === 'end' || s === 'close') {
      try {
        await this.client.connect();
      } catch (e) {
        throw new SinkError(`Redis ${this.name} unreachable (${errorLine(e)}); events wait in the local store and are sent when it answers`);
      }
      return;
    }
    throw new SinkError(`Redis ${this.name} not connected (${s}); events wait in the local store and are sent when it answers`);
  }

  async deliver(batch: DeliveryBatch): Promise<DeliveryResult> {
    await this.ready();
    if (!this.checkedPersistence) await this.checkPersistence();
    const m = this.client.multi();
    for (const it of batch.items) {
      m.xadd(
        STREAM_KEYS[it.kind === 'event' ? 'events' : 'audit'],
        'MAXLEN',
        '~',
        STREAM_MAXLEN,
        '*',
        'id',
        it.id,
        'type',
        it.type,
        'json',
        it.json,
        'observer',
        batch.observerId,
        'run',
        it.run_id,
      );
    }
    let res: [Error | null, unknown][] | null;
    try {
      res = await m.exec();
    } catch (e) {
      throw new SinkError(`Redis ${this.name}: XADD of ${batch.items.length} entries failed (${errorLine(e)}); the batch is retried`);
    }
    if (res === null) throw new SinkError(`Redis ${this.name}: the transaction was discarded; the batch is retried`);
    const failed = res.find(([err]) => err !== null);
    if (failed !== undefined) throw new SinkError(`Redis ${this.name}: XADD failed (${errorLine(failed[0])}); the batch is retried`);
    return { rejected: [] };
  }

  /**
   * At least once holds across a Redis restart only when Redis keeps what it acknowledged: an
   * append-only file. A managed service may refuse CONFIG; then nothing is said.
   */
  private async checkPersistence(): Promise<void> {
    this.checkedPersistence = true;
    try {
      const r = (await this.client.call('CONFIG', 'GET', 'appendonly')) as unknown;
      const value = Array.isArray(r) ? (r[1] as unknown) : undefined;
      this.persistenceWarning =
        value === 'no'
          ? `Redis ${this.name} runs without an append-only file (appendonly no): entries it acknowledged since its last snapshot are lost if it is killed; start it with --appendonly yes`
          : null;
    } catch {
      this.persistenceWarning = null;
    }
  }

  warning(): string | null {
    return this.persistenceWarning;
  }

  async close(): Promise<void> {
    this.client.disconnect(false);
    return Promise.resolve();
  }
}
