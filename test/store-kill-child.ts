/**
 * Child process of test/store-kill.test.ts (run with test/fixtures/ts-register.cjs): writes
 * batches of events to the store as fast as it can and, only after `persist` has returned ok,
 * appends their ids to a "published" file — as the collector publishes a snapshot only after its
 * events are committed. The parent kills it with SIGKILL at a random moment.
 *
 *   node -r ./test/fixtures/ts-register.cjs test/store-kill-child.ts <db> <run id> <events.jsonl> <published.txt>
 */
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { RULE_SET_ID, RULE_SET_VERSION } from '../src/core/constants';
import type { PromotedEvent } from '../src/core/contracts/promoted';
import { EventStore } from '../src/store/store';

const [db, runId, eventsFile, publishedFile] = process.argv.slice(2) as [string, string, string, string];
const base = readFileSync(eventsFile, 'utf8')
  .split('\n')
  .filter((l) => l.length > 0)
  .map((l) => JSON.parse(l) as PromotedEvent);
const store = EventStore.open({ path: db }, Date.now());
const now = Date.now();
const started = store.startRun(
  { run_id: runId, started_ms: now, mode: 'DEMO', rule_set: { id: RULE_SET_ID, version: RULE_SET_VERSION }, config_hash: 'kill-test', app_version: 'test' },
  now,
);
const published = openSync(publishedFile, 'a');
writeSync(1, `ready ${started.ok ? started.unclean.map((r) => r.run_id).join(',') : `fault:${started.fault.kind}`}\n`);
for (let i = 0; ; i++) {
  const batch = Array.from({ length: (i % 3) + 1 }, (_, j) => {
    const e = base[(i + j) % base.length] as PromotedEvent;
    return { ...e, event_id: `${e.event_id}#${runId}-${i}-${j}` };
  });
  const r = store.persist({ events: batch }, Date.now());
  if (r.ok) writeSync(published, `${batch.map((e) => e.event_id).join('\n')}\n`);
  if (i === Number.MAX_SAFE_INTEGER) break;
}
closeSync(published);
