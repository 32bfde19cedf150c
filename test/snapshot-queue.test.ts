/** The driver's snapshot pacing: a reconnect's requests leave a few at a time, never two for one symbol. */
import { describe, expect, it } from 'vitest';
import type { SnapshotRequest } from '../src/binance/book/order-book';
import { SnapshotQueue } from '../src/binance/book/snapshot-queue';

const req = (symbol: string): SnapshotRequest => ({ type: 'fetch_snapshot', symbol, reason: 'initial', limit: 1000, weight: 20 });
const TOP = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'BNBUSDT', 'XRPUSDT', 'DOGEUSDT', 'ADAUSDT', 'AVAXUSDT', 'LINKUSDT', 'TRXUSDT'];

describe('SnapshotQueue', () => {
  it('sends a reconnect of ten books at most two at a time, oldest first', () => {
    const q = new SnapshotQueue(2);
    q.add(TOP.map(req));
    const sent: string[] = [];
    let r = q.next();
    while (r !== null) {
      sent.push(r.symbol);
      r = q.next();
    }
    expect(sent).toEqual(['BTCUSDT', 'ETHUSDT']);
    expect([q.sending, q.queued]).toEqual([2, 8]);
    q.settle('BTCUSDT');
    expect(q.next()?.symbol).toBe('SOLUSDT');
    expect(q.next()).toBeNull();
  });

  it('merges a re-ask for a symbol that is queued or in flight, and takes it again once settled', () => {
    const q = new SnapshotQueue(1);
    q.add([req('BTCUSDT'), req('ETHUSDT')]);
    expect(q.next()?.symbol).toBe('BTCUSDT');
    q.add([req('BTCUSDT'), req('ETHUSDT')]);
    expect(q.merged).toBe(2);
    q.settle('BTCUSDT');
    q.add([req('BTCUSDT')]);
    expect(q.merged).toBe(2);
    expect([q.next()?.symbol, q.queued]).toEqual(['ETHUSDT', 1]);
  });

  it('refuses a limit below one', () => {
    expect(() => new SnapshotQueue(0)).toThrow(/maxInFlight must be at least 1/);
  });
});
