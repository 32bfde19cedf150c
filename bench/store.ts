/**
 * Section: the event store's insert latency — one `EventStore.persist()` call, i.e. what the
 * collector's commit waits for before it may publish a snapshot with new events (SPEC §21 "durable
 * before it appears"). The events are the real promotions of the capture replayed with SYNTHETIC OI
 * polls (as in the promotion-latency section), each written as a new event id so every insert is a
 * real insert, together with its PEAK_PRESSURE_PROMOTED audit envelope as the collector will mirror
 * it. Batches of 1 (a lone promotion) and 10 (a cascade within one 500 ms commit), with
 * synchronous=FULL (the default: fsync per commit, durable across a power cut) and NORMAL
 * (durable across a crash or kill only). The file lives in the OS temp dir (on this machine the
 * same disk as the repository's data/).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RULE_SET_ID, RULE_SET_VERSION } from '../src/core/constants';
import type { AuditEnvelope } from '../src/core/contracts/audit';
import type { PromotedEvent } from '../src/core/contracts/promoted';
import { EventStore } from '../src/store/store';
import { withSyntheticOi } from './data';
import { runB } from './pipelines';
import { distribution, type Distribution, fmt, fmtInt, scaled } from './stats';
import type { Json, SectionContext, SectionResult } from './types';

interface Case {
  synchronous: 'FULL' | 'NORMAL';
  batch: number;
}

function measure(dir: string, base: readonly PromotedEvent[], c: Case, batches: number): { d: Distribution; dbBytes: number; walBytes: number } {
  const path = join(dir, `bench-${c.synchronous}-${c.batch}.db`);
  const store = EventStore.open({ path, synchronous: c.synchronous }, 0);
  if (store.status.state !== 'OK') throw new Error(`store bench: cannot open ${path}: ${store.status.fault?.message ?? ''}`);
  store.startRun(
    { run_id: 'bench', started_ms: 0, mode: 'REPLAY', rule_set: { id: RULE_SET_ID, version: RULE_SET_VERSION }, config_hash: 'bench', app_version: 'bench' },
    0,
  );
  const samples = new Float64Array(batches);
  let seq = 0;
  let k = 0;
  for (let b = 0; b < batches; b++) {
    const events: PromotedEvent[] = [];
    const audit: AuditEnvelope[] = [];
    for (let i = 0; i < c.batch; i++, k++) {
      const e = { ...(base[k % base.length] as PromotedEvent), event_id: `${(base[k % base.length] as PromotedEvent).event_id}#${k}` };
      events.push(e);
      audit.push({
        ts_ms: b,
        run_id: 'bench',
        seq: ++seq,
        stage: 'OBSERVE',
        event_type: 'PEAK_PRESSURE_PROMOTED',
        symbol: e.symbol,
        reasons: [],
        severity: 'INFO',
        payload: e as unknown as Record<string, unknown>,
      });
    }
    const t0 = process.hrtime.bigint();
    const r = store.persist({ events, audit }, b);
    samples[b] = Number(process.hrtime.bigint() - t0);
    if (!r.ok || r.events_inserted !== c.batch) throw new Error(`store bench: batch ${b} not written: ${JSON.stringify(r)}`);
  }
  const files = store.files();
  store.close(batches);
  return { d: distribution(samples), dbBytes: files.db_bytes, walBytes: files.wal_bytes };
}

export function storeSection(ctx: SectionContext): SectionResult {
  const { frames } = withSyntheticOi(ctx.dataset);
  const base = runB(frames, ctx.dataset.symbols).engine.promotions.toArray();
  if (base.length === 0) throw new Error('store bench: the replay with synthetic OI promoted nothing');
  const batches = ctx.quick ? 200 : 2_000;
  const cases: Case[] = [
    { synchronous: 'FULL', batch: 1 },
    { synchronous: 'FULL', batch: 10 },
    { synchronous: 'NORMAL', batch: 1 },
    { synchronous: 'NORMAL', batch: 10 },
  ];
  const dir = mkdtempSync(join(tmpdir(), 'pp-bench-store-'));
  const rows: string[][] = [];
  const data: { [k: string]: Json } = { base_events: base.length, batches_per_case: batches, dir_fs: tmpdir() };
  try {
    for (const c of cases) {
      ctx.log(`store: synchronous=${c.synchronous}, ${c.batch} event(s) per persist, ${batches} persists`);
      const m = measure(dir, base, c, batches);
      const ms = (x: number): string => fmt(x / 1e6, 3);
      rows.push([c.synchronous, String(c.batch), fmtInt(m.d.n), ms(m.d.p50), ms(m.d.p90), ms(m.d.p99), ms(m.d.max), fmt((m.dbBytes + m.walBytes) / 1e6, 1)]);
      data[`${c.synchronous}_${c.batch}`] = { ms: scaled(m.d, 1e6), db_bytes: m.dbBytes, wal_bytes: m.walBytes };
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    tables: [
      {
        title: `EventStore.persist(): one committed transaction of N promoted events + their audit envelopes (${fmtInt(base.length)} real promotions on real trades + SYNTHETIC OI, re-keyed; ms)`,
        columns: ['synchronous', 'events per persist', 'n', 'p50', 'p90', 'p99', 'max', 'file MB at the end'],
        rows,
      },
    ],
    notes: [
      'The collector calls persist() in its commit, before the snapshot with the new events is published, on the collector worker thread; frames wait in the socket meanwhile. A commit with no new event or audit row writes nothing. FULL (the default) pays one fsync per commit on top of NORMAL; on a loaded or slow disk that fsync is the tail.',
    ],
    checks: [],
    data,
  };
}
