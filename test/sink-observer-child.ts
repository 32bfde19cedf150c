/**
 * Child process of test/sinks-faults.test.ts (run with test/fixtures/ts-register.cjs): an observer
 * without the collector. It stores events in batches of 1–3 the way the collector's commit does
 * (persist, then publish their ids, then nudge the sinks) while the sink delivery drains the same
 * store; it reports the sinks' status on stdout. The parent kills it, or the servers, with SIGKILL.
 *
 *   node -r ./test/fixtures/ts-register.cjs test/sink-observer-child.ts <db> <run id> <events.jsonl> <from> <count> <everyMs> <batchSize> <exit|hold> <sink url>…
 *
 * Stores events[from … from + count) (stopping early when the file has fewer) every <everyMs> ms
 * while delivery runs — or, with everyMs 0, all of them before delivery starts (a backlog that
 * cannot be delivered before the first status line, however the machine's load paces the two) —
 * then keeps delivering; with `exit`, prints `drained` and exits 0 once every sink has acknowledged
 * everything; with `hold` it keeps running until it is killed.
 * Lines on stdout: `ready`, `written <n>`, `status <json>` (every 50 ms), `drained`.
 */
import { readFileSync, writeSync } from 'node:fs';
import { RULE_SET_ID, RULE_SET_VERSION } from '../src/core/constants';
import type { StorableEvent } from '../src/store/contract';
import { EventStore } from '../src/store/store';
import { InlineHub } from '../src/sinks/hub';
import { parseSinkUrl } from '../src/sinks/spec';

const [db, runId, eventsFile, fromText, countText, everyText, batchText, whenDrained, ...sinkUrls] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
  string,
  string,
  string,
  ...string[],
];
const all = readFileSync(eventsFile, 'utf8')
  .split('\n')
  .filter((l) => l.length > 0)
  .map((l) => JSON.parse(l) as StorableEvent);
const from = Number(fromText);
const todo = all.slice(from, from + Number(countText));
const out = (line: string): void => void writeSync(1, `${line}\n`);

const store = EventStore.open({ path: db, busyTimeoutMs: 1_000 }, Date.now());
store.startRun(
  {
    run_id: runId,
    started_ms: Date.now(),
    mode: 'DEMO',
    rule_set: { id: RULE_SET_ID, version: RULE_SET_VERSION },
    config_hash: 'sink-faults',
    app_version: 'test',
  },
  Date.now(),
);
let i = 0;
let written = 0;
/** Stores the next batch of 1–3 events as one commit; false when the store refused it (retried later). */
function storeNext(): boolean {
  const n = Math.min((i % 3) + 1, todo.length - i);
  const batch = todo.slice(i, i + n);
  const r = store.persist({ events: batch }, Date.now());
  if (!r.ok) return false;
  i += n;
  written += r.events_inserted;
  return true;
}
const everyMs = Number(everyText);
if (everyMs === 0) while (i < todo.length && storeNext());

const hub = new InlineHub({
  storePath: db,
  sinks: sinkUrls.map(parseSinkUrl),
  thread: 'inline',
  tuning: { batchSize: Number(batchText), idlePollMs: 20, retryMinMs: 20, retryMaxMs: 250, batchTimeoutMs: 5_000, runsSyncMs: 100 },
});
out('ready');

const writer = setInterval(
  () => {
    if (i >= todo.length) {
      clearInterval(writer);
      out(`written ${written}`);
      return;
    }
    if (storeNext()) hub.nudge();
  },
  Math.max(1, everyMs),
);

const reporter = setInterval(() => {
  const st = hub.status();
  out(`status ${JSON.stringify(st)}`);
  if (whenDrained === 'exit' && i >= todo.length && st.length > 0 && st.every((s) => s.state === 'OK' && s.backlog === 0)) {
    clearInterval(reporter);
    // As the collector stops: the store's last write (the run's clean end) first, then the sinks drain it.
    store.close(Date.now());
    void hub.stop(2_000).then(() => {
      out('drained');
      process.exit(0);
    });
  }
}, 50);
