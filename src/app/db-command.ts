/**
 * `peak-pressure db migrate|status postgres://…`: the PostgreSQL sink's schema (SPEC §22). The sink
 * never changes a schema itself: an operator applies the migrations once per database, before
 * (or while) observers deliver to it; they wait with their rows in the local store until it is done.
 */
import { parseArgs } from 'node:util';
import pg from 'pg';
import { migratePg, PG_LATEST_VERSION, PG_MIGRATIONS, pgSchemaVersion } from '../sinks/postgres-schema';
import { APP_VERSION } from '../store/run-info';
import { safeMessage } from '../text/safe';
import type { SinkSpec } from '../sinks/spec';
import { UsageError } from './cli-errors';
import { sinkArgs } from './live-options';

export const DB_USAGE = `usage: peak-pressure db migrate postgres://USER@HOST:PORT/DATABASE
       peak-pressure db status  postgres://USER@HOST:PORT/DATABASE

  migrate   apply the numbered migrations this build knows (each in its own transaction, under a
            lock, so two at once are safe); a database at a newer schema is left as it is
  status    print the database's schema version and this build's

The tables: observers, runs, events, audit, windows (README "PostgreSQL").
`;

export async function dbCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: { help: { type: 'boolean', short: 'h', default: false } },
  });
  if (values.help) {
    process.stdout.write(DB_USAGE);
    return 0;
  }
  const [action, url, ...rest] = positionals;
  if (action !== 'migrate' && action !== 'status')
    throw new UsageError(action === undefined ? 'give migrate or status' : `unknown action ${action} (migrate or status)`);
  if (url === undefined || rest.length > 0) throw new UsageError('give exactly one postgres:// URL');
  const spec = sinkArgs([url], '')[0] as SinkSpec;
  if (spec.kind !== 'postgres') throw new UsageError(`${spec.name}: db works on PostgreSQL; give a postgres:// URL`);
  const c = new pg.Client({ connectionString: spec.url, connectionTimeoutMillis: 10_000, application_name: 'peak-pressure db' });
  c.on('error', () => undefined);
  try {
    await c.connect();
  } catch (e) {
    process.stderr.write(
      `peak-pressure db: cannot connect to ${spec.name} (${safeMessage((e as Error).message)}); is PostgreSQL running there, and does the database exist?\n`,
    );
    return 1;
  }
  try {
    if (action === 'status') {
      const v = await pgSchemaVersion(c);
      const verdict =
        v === PG_LATEST_VERSION ? 'current' : v > PG_LATEST_VERSION ? 'newer than this build: it refuses to write there' : 'run `peak-pressure db migrate`';
      process.stdout.write(`${spec.name}: schema v${v}; this build writes v${PG_LATEST_VERSION} (${verdict})\n`);
      return v === PG_LATEST_VERSION ? 0 : 1;
    }
    const r = await migratePg(c, spec.name, APP_VERSION);
    if (r.from === r.to) process.stdout.write(`${spec.name}: already at schema v${r.to}\n`);
    else {
      for (const m of PG_MIGRATIONS.filter((x) => x.version > r.from && x.version <= r.to)) process.stdout.write(`applied v${m.version}: ${m.what}\n`);
      process.stdout.write(`${spec.name}: schema v${r.from} → v${r.to}\n`);
    }
    return 0;
  } catch (e) {
    process.stderr.write(`peak-pressure db ${action}: ${safeMessage((e as Error).message)}\n`);
    return 1;
  } finally {
    await c.end().catch(() => undefined);
  }
}
