/**
 * Export (`peak-pressure events`) and `replay --db` on the real fixtures: every field of every
 * event comes back, with the run and the rule-set id/version in each row and times in epoch ms and
 * ISO 8601 UTC; CSV is RFC 4180 (checked with an independent parser on fields holding commas,
 * quotes and newlines); bad arguments are one line + usage + exit 2; a replay store and another
 * store compare with one SQL query.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePolicyArg, parseTimeArg, UsageError } from '../src/app/events-command';
import { PromotedEventSchema } from '../src/core/contracts/promoted';
import { csvField, csvLine, exportRecord, flatten } from '../src/store/export-format';
import { EventStore } from '../src/store/store';
import { CLI, ensureCliBuilt, FIXTURE_FILES } from './fixtures/paths';
import { writeOiCapture } from './fixtures/synthetic';
import { fixtureEvents, runStart, tempDir } from './store-helpers';

const tmp = tempDir('pp-export-');
afterAll(() => tmp.cleanup());
const OI = writeOiCapture(join(tmp.dir, 'oi.capture'));

function cli(args: readonly string[]): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [CLI, ...args], { cwd: tmp.dir, encoding: 'utf8', maxBuffer: 64 << 20 });
}

/** An RFC 4180 reader written for the test (not the code under test): records of fields. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const c = text[i] as string;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
      } else if (c === '"') {
        quoted = false;
        i++;
      } else {
        field += c;
        i++;
      }
    } else if (c === '"' && field === '') {
      quoted = true;
      i++;
    } else if (c === ',') {
      row.push(field);
      field = '';
      i++;
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i += 2;
    } else {
      expect(c, `bare ${JSON.stringify(c)} at ${i}`).not.toMatch(/["\r\n]/);
      field += c;
      i++;
    }
  }
  expect(field).toBe('');
  expect(row).toEqual([]);
  return rows;
}

describe('argument parsing', () => {
  it('takes epoch ms and ISO 8601 (UTC unless a zone is given) and refuses the rest with a one-line reason', () => {
    expect(parseTimeArg('since', '1723161300000')).toBe(1_723_161_300_000);
    expect(parseTimeArg('since', '2024-08-08')).toBe(Date.UTC(2024, 7, 8));
    expect(parseTimeArg('since', '2024-08-08T23:55:00Z')).toBe(Date.UTC(2024, 7, 8, 23, 55));
    expect(parseTimeArg('since', '2024-08-08T23:55')).toBe(Date.UTC(2024, 7, 8, 23, 55));
    expect(parseTimeArg('since', '2024-08-08T23:55:00.250+02:00')).toBe(Date.UTC(2024, 7, 8, 21, 55, 0, 250));
    for (const bad of ['1723161300', 'yesterday', '2024-13-45', '2024-08-08 23:55', '']) {
      expect(() => parseTimeArg('since', bad)).toThrow(UsageError);
    }
    expect(parsePolicyArg('four-pillars-001@1')).toEqual({ id: 'four-pillars-001', version: 1 });
    expect(parsePolicyArg('peak-pressure-m3')).toEqual({ id: 'peak-pressure-m3' });
    expect(() => parsePolicyArg('m3 v1')).toThrow(UsageError);
  });
});

describe('CSV and record format', () => {
  it('quotes exactly the fields RFC 4180 needs quoted', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField(12.5)).toBe('12.5');
    expect(csvField(null)).toBe('');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('cr\rhere')).toBe('"cr\rhere"');
    expect(csvLine(['a,b', 'c"d', 'e\r\nf', true])).toBe('"a,b","c""d","e\r\nf",true\r\n');
  });

  it('flattens nesting to dotted keys, joins plain arrays with ";", adds _utc beside epoch-ms fields', async () => {
    const e = (await fixtureEvents())[0];
    if (e === undefined) throw new Error('no event');
    const row = {
      policy_id: 'peak-pressure-m3',
      policy_version: 1,
      event_id: e.event_id,
      run_id: 'r',
      symbol: e.symbol,
      window_start_ms: e.window_start_ms,
      window_end_ms: e.window_end_ms,
      stored_ms: 0,
      json: JSON.stringify(e),
    };
    const rec = exportRecord(row);
    expect(Object.keys(rec).slice(0, 4)).toEqual(['event_id', 'run_id', 'policy_id', 'policy_version']);
    expect(rec.window_end_utc).toBe(new Date(e.window_end_ms).toISOString());
    expect(rec.closed_at_watermark_utc).toBe(new Date(e.closed_at_watermark_ms).toISOString());
    const flat = flatten(rec);
    expect(flat['metrics.thresholds.compression_max']).toBe(e.metrics.thresholds.compression_max);
    expect(flat.stress_sources).toBe(e.stress_sources.join(';'));
    expect(flat['rule_set.id']).toBeUndefined();
  });
});

describe('peak-pressure replay --db and peak-pressure events, end to end on the real fixtures', () => {
  const db = join(tmp.dir, 'replay.db');
  let replayJsonl = '';
  beforeAll(() => {
    ensureCliBuilt();
    const r = cli(['replay', ...FIXTURE_FILES, OI, '--out', join(tmp.dir, 'events.jsonl'), '--db', db]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/Events stored in .*replay\.db \(run replay-\S+\): 3 new, 0 already there/);
    replayJsonl = readFileSync(join(tmp.dir, 'events.jsonl'), 'utf8');
  }, 180_000);

  it('JSONL: every field of every replayed event, plus run, policy id/version and UTC times', () => {
    const r = cli(['events', '--db', db]);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe(`3 event(s) from ${db}\n`);
    const lines = r.stdout.trimEnd().split('\n');
    const expected = replayJsonl.trimEnd().split('\n');
    expect(lines).toHaveLength(expected.length);
    lines.forEach((line, i) => {
      const rec = JSON.parse(line) as Record<string, unknown>;
      expect(rec.run_id).toMatch(/^replay-/);
      expect([rec.policy_id, rec.policy_version]).toEqual(['peak-pressure-m3', 1]);
      expect(rec.window_start_utc).toBe(new Date(rec.window_start_ms as number).toISOString());
      // The event itself, byte for byte, once the export's own keys are taken out again.
      const { run_id: _a, policy_id: _b, policy_version: _c, window_start_utc: _d, window_end_utc: _e, closed_at_watermark_utc: _f, ...event } = rec;
      expect(JSON.stringify(PromotedEventSchema.parse(event))).toBe(JSON.stringify(event));
      expect(JSON.stringify(event)).toBe(expected[i]);
    });
  });

  it('CSV: a header and one RFC 4180 record per event with every field', () => {
    const r = cli(['events', '--db', db, '--format', 'csv']);
    expect(r.status).toBe(0);
    const rows = parseCsv(r.stdout);
    const [head, ...body] = rows;
    expect(head?.slice(0, 6)).toEqual(['event_id', 'run_id', 'policy_id', 'policy_version', 'symbol', 'timestamp']);
    expect(head).toContain('metrics.abs_flow');
    expect(head).toContain('window_end_utc');
    expect(body).toHaveLength(3);
    const events = replayJsonl
      .trimEnd()
      .split('\n')
      .map((l) => PromotedEventSchema.parse(JSON.parse(l)));
    body.forEach((cells, i) => {
      const rec = Object.fromEntries((head as string[]).map((h, j) => [h, cells[j]]));
      const e = events[i];
      if (e === undefined) throw new Error('missing event');
      expect(rec.event_id).toBe(e.event_id);
      expect(rec.policy_id).toBe('peak-pressure-m3');
      expect(rec.policy_version).toBe('1');
      expect(Number(rec['metrics.abs_flow'])).toBe(e.metrics.abs_flow);
      expect(rec['metrics.kline_source']).toBe(e.metrics.kline_source);
      expect(rec.window_end_ms).toBe(String(e.window_end_ms));
      expect(rec.window_end_utc).toBe(new Date(e.window_end_ms).toISOString());
    });
  });

  it('CSV quoting on stored fields with commas, quotes and newlines (a policy event), read back exactly', async () => {
    const p = join(tmp.dir, 'quoting.db');
    const store = EventStore.open({ path: p }, 0);
    store.startRun(runStart('q', 0), 0);
    const m3 = (await fixtureEvents())[0];
    if (m3 === undefined) throw new Error('no event');
    const { rule_set: _r, ...rest } = m3;
    const nasty = 'a, "quoted" note\nover two lines\r\nand a third';
    store.persist({ events: [m3, { ...rest, event_id: 'X-1', policy: { id: 'four-pillars-001', version: 1 }, note: nasty, dominant_share: 0.8 }] }, 1);
    store.close(2);
    const r = cli(['events', '--db', p, '--format', 'csv']);
    expect(r.status).toBe(0);
    const [head, ...body] = parseCsv(r.stdout);
    const col = (name: string): number => (head as string[]).indexOf(name);
    // Same window end: ordered by symbol, then policy id.
    expect(body.map((c) => c[col('policy_id')])).toEqual(['four-pillars-001', 'peak-pressure-m3']);
    expect(body.map((c) => c[col('note')])).toEqual([nasty, '']);
    expect(body.map((c) => c[col('dominant_share')])).toEqual(['0.8', '']);
    const byPolicy = cli(['events', '--db', p, '--policy', 'four-pillars-001@1']);
    expect(
      byPolicy.stdout
        .trimEnd()
        .split('\n')
        .map((l) => (JSON.parse(l) as { note: string }).note),
    ).toEqual([nasty]);
  });

  it('filters: --since/--until (ISO or epoch ms, on the window end), --symbol, --policy', () => {
    const all = cli(['events', '--db', db])
      .stdout.trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { window_end_ms: number; symbol: string });
    const ends = all.map((e) => e.window_end_ms);
    const mid = ends[1] as number;
    const since = cli(['events', '--db', db, '--since', String(mid)])
      .stdout.trimEnd()
      .split('\n');
    expect(since).toHaveLength(all.filter((e) => e.window_end_ms >= mid).length);
    const untilIso = cli(['events', '--db', db, '--until', new Date(mid).toISOString()]).stdout;
    expect(untilIso.split('\n').filter(Boolean)).toHaveLength(all.filter((e) => e.window_end_ms < mid).length);
    const eth = cli(['events', '--db', db, '--symbol', 'ethusdt']).stdout.split('\n').filter(Boolean);
    expect(eth).toHaveLength(all.filter((e) => e.symbol === 'ETHUSDT').length);
    expect(cli(['events', '--db', db, '--policy', 'four-pillars-001']).stdout).toBe('');
  });

  it('bad arguments: one line saying what is wrong, the usage, exit 2; a missing store: exit 1 with the fix', () => {
    for (const args of [
      ['--since', 'soon'],
      ['--format', 'xml'],
      ['--until', '1723161300'],
      ['--since', '2024-08-09', '--until', '2024-08-08'],
      ['--symbol', 'BTC USDT'],
      ['--colour'],
    ]) {
      const r = cli(['events', '--db', db, ...args]);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      const [first, second] = r.stderr.split('\n');
      expect(first).toMatch(/^peak-pressure events: \S/);
      expect(second).toBe('usage: peak-pressure events [options]');
    }
    const missing = cli(['events', '--db', join(tmp.dir, 'nope.db')]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/^peak-pressure events: no store at .*nope\.db \(a live run creates it; a replay writes one with --db FILE\)\n$/);
  });

  it('a replay store and another store compare with one SQL query (FULL OUTER JOIN on policy and event id)', () => {
    const again = join(tmp.dir, 'again.db');
    const btcOnly = join(tmp.dir, 'btc.db');
    expect(cli(['replay', ...FIXTURE_FILES, OI, '--out', join(tmp.dir, 'e2.jsonl'), '--db', again]).status).toBe(0);
    expect(cli(['replay', ...FIXTURE_FILES, OI, '--symbols', 'BTCUSDT', '--out', join(tmp.dir, 'e3.jsonl'), '--db', btcOnly]).status).toBe(0);
    const diff = (other: string): { event_id: string; side: string }[] => {
      const conn = new Database(db, { readonly: true });
      try {
        conn.prepare('ATTACH ? AS other').run(other);
        return conn.prepare(COMPARE_SQL).all() as { event_id: string; side: string }[];
      } finally {
        conn.close();
      }
    };
    expect(diff(again)).toEqual([]);
    // Without ETHUSDT its events are missing, and the BTCUSDT events differ in closed_at_watermark_ms
    // (the watermark is one clock for all allowed symbols): both show up.
    const d = diff(btcOnly);
    const eth = cli(['events', '--db', db, '--symbol', 'ETHUSDT'])
      .stdout.trimEnd()
      .split('\n')
      .map((l) => (JSON.parse(l) as { event_id: string }).event_id);
    expect(eth.length).toBeGreaterThan(0);
    expect(d.filter((x) => x.event_id.startsWith('ETHUSDT-'))).toEqual(eth.map((event_id) => ({ event_id, side: 'only here' })));
    expect(d.filter((x) => !x.event_id.startsWith('ETHUSDT-')).every((x) => x.side === 'different')).toBe(true);
  });
});

/** The comparison query the README shows (kept here so the README's text is the tested one). */
const COMPARE_SQL = ((): string => {
  const sql = readFileSync(join(__dirname, '..', 'README.md'), 'utf8').match(/```sql\n-- compare two stores\n([\s\S]*?)```/)?.[1];
  if (sql === undefined) throw new Error('README.md has no ```sql block starting with "-- compare two stores"');
  return sql;
})();
