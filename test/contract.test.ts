/**
 * The published JSON Schema contracts in docs/contracts/ are current (regenerate with
 * `npm run contract`), well-formed, and the runtime objects they describe validate against the
 * zod schemas they are generated from: a committed snapshot and promoted events of a replay.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTRACTS, renderContracts, staleContracts } from '../src/app/contract';
import { CanonicalEventSchema } from '../src/core/contracts/canonical';
import { PromotedEventSchema } from '../src/core/contracts/promoted';
import { SnapshotSchema } from '../src/core/contracts/snapshot';
import { type ReplayResult, runReplay } from '../src/replay/replay';
import type { PromotedEvent } from '../src/core/contracts/promoted';
import type { Snapshot } from '../src/core/contracts/snapshot';
import { normalizeFrame } from '../src/binance/normalize';
import { mergeCaptures } from '../src/capture/reader';
import { FIXTURE_BTC, FIXTURE_FILES, REPO_ROOT } from './fixtures/paths';
import { writeOiCapture } from './fixtures/synthetic';

const DIR = join(REPO_ROOT, 'docs', 'contracts');
const tmp = mkdtempSync(join(tmpdir(), 'pp-contract-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function issues(r: { success: boolean; error?: { issues: readonly { path: readonly PropertyKey[]; message: string }[] } }): string[] {
  return r.success ? [] : (r.error?.issues ?? []).slice(0, 5).map((i) => `${i.path.map(String).join('.')}: ${i.message}`);
}

describe('docs/contracts', () => {
  it('is current: staleContracts returns [] (run `npm run contract` after changing a zod contract)', () => {
    expect(staleContracts(DIR)).toEqual([]);
  });

  it('has exactly one schema file per contract, each valid JSON naming its $id', () => {
    const files = readdirSync(DIR)
      .filter((f) => f.endsWith('.schema.json'))
      .sort();
    expect(files).toEqual(
      Object.keys(CONTRACTS)
        .map((n) => `${n}.schema.json`)
        .sort(),
    );
    for (const f of files) {
      const name = f.slice(0, -'.schema.json'.length);
      const json = JSON.parse(readFileSync(join(DIR, f), 'utf8')) as Record<string, unknown>;
      expect(json.$id, f).toBe(`peak-pressure/${name}`);
      expect(json.$schema, f).toBe('https://json-schema.org/draft/2020-12/schema');
      expect(typeof json.type === 'string' || Array.isArray(json.anyOf) || Array.isArray(json.oneOf), f).toBe(true);
    }
  });

  it('staleContracts notices a changed, a missing and an extra file', () => {
    const rendered = renderContracts();
    expect(rendered.size).toBe(Object.keys(CONTRACTS).length);
    // Nothing on disk at all: everything is stale.
    expect(staleContracts(join(tmp, 'nope')).sort()).toEqual([...rendered.keys()].sort());
    const copy = join(tmp, 'copy');
    cpSync(DIR, copy, { recursive: true });
    expect(staleContracts(copy)).toEqual([]);
    const snap = join(copy, 'snapshot.schema.json');
    writeFileSync(snap, readFileSync(snap, 'utf8').replace('"run_id"', '"run_id_renamed"'));
    rmSync(join(copy, 'binance.trade.schema.json'));
    writeFileSync(join(copy, 'old.schema.json'), '{}\n');
    expect(staleContracts(copy).sort()).toEqual(['binance.trade.schema.json', 'old.schema.json', 'snapshot.schema.json']);
  });
});

describe('runtime objects satisfy the contracts', () => {
  let result: ReplayResult;
  const events: PromotedEvent[] = [];
  const snapshots: Snapshot[] = [];
  beforeAll(async () => {
    // Real frames plus synthetic OI polls (test/fixtures/synthetic.ts), so windows get promoted.
    const oi = writeOiCapture(join(tmp, 'oi.capture'));
    result = await runReplay({ files: [...FIXTURE_FILES, oi], onPromotion: (e) => events.push(e), commitEveryMs: 10_000 });
    if (result.state.active) snapshots.push(result.state.active);
    snapshots.push(result.state.commit(1_723_161_400_000));
  });

  it('promoted events of a replay validate against PromotedEventSchema', () => {
    expect(events.length).toBeGreaterThan(0);
    for (const e of events) expect(issues(PromotedEventSchema.safeParse(e)), e.event_id).toEqual([]);
    // and survive a JSON round trip unchanged (what the audit JSONL stores)
    for (const e of events) expect(PromotedEventSchema.parse(JSON.parse(JSON.stringify(e)))).toEqual(e);
  });

  it('a committed snapshot validates against SnapshotSchema', () => {
    expect(snapshots.length).toBe(2);
    for (const s of snapshots) expect(issues(SnapshotSchema.safeParse(s))).toEqual([]);
    const last = snapshots[snapshots.length - 1] as Snapshot;
    expect(last.promoted_events.length).toBe(events.length);
    expect(last.per_symbol.BTCUSDT?.warm).toBe(true);
    expect(Object.isFrozen(last)).toBe(true);
    // As written to debug/latest_snapshot.json and read back by the UI.
    expect(issues(SnapshotSchema.safeParse(JSON.parse(JSON.stringify(last))))).toEqual([]);
  });

  it('every canonical event the normalizer makes from the real fixture validates against CanonicalEventSchema', async () => {
    let n = 0;
    for await (const item of mergeCaptures([FIXTURE_BTC])) {
      if (item.kind !== 'frame') continue;
      const r = normalizeFrame(item.frame);
      if (r.kind !== 'event') continue;
      n++;
      const bad = issues(CanonicalEventSchema.safeParse(r.event));
      if (bad.length > 0) expect(bad, `line ${item.line}`).toEqual([]);
    }
    expect(n).toBe(2_840);
  });
});
