/**
 * `peak-pressure consume redis://…`: the reference consumer of the Redis streams (SPEC §22) — one
 * JSON line per entry on stdout, dead letters and a summary on stderr. Its source
 * (src/sinks/redis-consumer.ts) is the pattern for a user's own consumer.
 */
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { StreamConsumer } from '../sinks/redis-consumer';
import type { StreamName } from '../sinks/redis-streams';
import { redactUrl, safeMessage } from '../text/safe';
import type { SinkSpec } from '../sinks/spec';
import { UsageError } from './cli-errors';
import { sinkArgs } from './live-options';
import { STOP_SIGNALS } from './platform';

export const CONSUME_USAGE = `usage: peak-pressure consume redis://HOST:PORT[/DB] [options]

Reads peak-pressure:events (and, with --streams events,audit, peak-pressure:audit) in a consumer
group and prints each entry once as a JSON line:
  {"stream":"events","entry":"<redis id>","type":"peak-pressure-m3","id":"<event id>","observer":"…","run":"…","data":{…}}
"data" is the canonical contract JSON, byte for byte. Entries are acknowledged after they are
printed; a restarted consumer of the same name first takes back what it had not acknowledged,
and entries another consumer left pending are claimed. An entry that fails its contract goes to
<stream>:dlq with the reason (printed on stderr) and is acknowledged. Duplicates (the sinks deliver
at least once) are recognised by type and id and skipped.

options:
  --group NAME           consumer group (default peak-pressure)
  --consumer NAME        this consumer's name; keep it across restarts (default: the host name)
  --streams LIST         events, audit or events,audit (default events)
  --from-now             a new group starts at new entries (default: the whole stream)
  --claim-idle-ms N      take over entries another consumer left pending this long (default 60000)
  --max-deliveries N     dead-letter an entry delivered this many times unacknowledged (default 5)
  --exit-when-idle       exit once nothing is left to read (scripts, tests)
`;

function positiveInt(flag: string, s: string | undefined, fallback: number): number {
  if (s === undefined) return fallback;
  if (!/^\d{1,9}$/.test(s)) throw new UsageError(`${flag} ${s}: expected a whole number`);
  return Number(s);
}

function parseStreams(s: string | undefined): StreamName[] {
  if (s === undefined) return ['events'];
  const list = s.split(',').map((x) => x.trim());
  for (const x of list) if (x !== 'events' && x !== 'audit') throw new UsageError(`--streams ${s}: each must be events or audit`);
  return [...new Set(list as StreamName[])];
}

export async function consumeCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      group: { type: 'string' },
      consumer: { type: 'string' },
      streams: { type: 'string' },
      'from-now': { type: 'boolean', default: false },
      'claim-idle-ms': { type: 'string' },
      'max-deliveries': { type: 'string' },
      'exit-when-idle': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(CONSUME_USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('give exactly one redis:// URL');
  const spec = sinkArgs([positionals[0] as string], '')[0] as SinkSpec;
  if (spec.kind !== 'redis') throw new UsageError(`${spec.name}: consume reads Redis streams; give a redis:// URL`);
  const streams = parseStreams(values.streams);
  const consumer = new StreamConsumer({
    url: spec.url,
    group: values.group ?? 'peak-pressure',
    consumer: values.consumer ?? hostname(),
    streams,
    startAt: values['from-now'] ? '$' : '0',
    claimIdleMs: positiveInt('--claim-idle-ms', values['claim-idle-ms'], 60_000),
    maxDeliveries: Math.max(1, positiveInt('--max-deliveries', values['max-deliveries'], 5)),
    blockMs: values['exit-when-idle'] ? 200 : 2_000,
    onEntry: (e, meta) => {
      process.stdout.write(
        `{"stream":${JSON.stringify(e.stream)},"entry":${JSON.stringify(meta.entryId)},"type":${JSON.stringify(e.type)},"id":${JSON.stringify(e.id)},"observer":${JSON.stringify(e.observer)},"run":${JSON.stringify(e.run)},"data":${e.json}}\n`,
      );
    },
    onDeadLetter: (stream, entryId, reason) => process.stderr.write(`dead-lettered ${stream} entry ${entryId}: ${safeMessage(reason)}\n`),
  });
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  for (const s of STOP_SIGNALS) process.on(s, onSignal);
  try {
    try {
      await consumer.init();
    } catch (e) {
      process.stderr.write(`peak-pressure consume: cannot reach ${redactUrl(spec.name)} (${safeMessage((e as Error).message)}); is Redis running there?\n`);
      return 1;
    }
    try {
      await consumer.run(stop.signal, values['exit-when-idle']);
    } catch (e) {
      if (!stop.signal.aborted) throw e;
    }
    const s = consumer.stats;
    process.stderr.write(
      `consumed ${s.handled}, duplicates ${s.duplicates}, dead-lettered ${s.dead_lettered}, claimed ${s.claimed}, handler errors ${s.handler_errors}\n`,
    );
    return 0;
  } finally {
    for (const s of STOP_SIGNALS) process.off(s, onSignal);
    consumer.close();
  }
}
