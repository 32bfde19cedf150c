/**
 * The SPEC §22 commands through the built CLI: `db status|migrate` on a real PostgreSQL,
 * `consume` on a real Redis (JSON lines, dead letters on stderr, a restart that prints nothing
 * again), and every refusal of a bad command line (exit 2 with the usage), credentials never echoed.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import Redis from 'ioredis';
import { beforeAll, describe, expect, it } from 'vitest';
import { Delivery } from '../src/sinks/delivery';
import { RedisSink } from '../src/sinks/redis-sink';
import { EVENTS_STREAM } from '../src/sinks/redis-streams';
import { parseSinkUrl } from '../src/sinks/spec';
import { Outbox } from '../src/store/outbox';
import { CLI, ensureCliBuilt } from './fixtures/paths';
import { describeWithServices, flushRedis, freshPgDatabase, redisDb, until } from './services';
import { fillStore, rekeyed } from './sink-helpers';
import { fixtureEvents, tempDir } from './store-helpers';

const tmp = tempDir('pp-sinks-cli-');

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd: tmp.dir, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code as number) : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

beforeAll(() => ensureCliBuilt(), 180_000);

describe('bad command lines', () => {
  it.each([
    [['live', '--headless', '--http', '0.0.0.0:8080'], /--http 0\.0\.0\.0:8080: the HTTP API listens on loopback only/],
    [['live', '--headless', '--http', 'nope'], /--http nope: expected HOST:PORT/],
    [['live', '--headless', '--sink', 'ftp://user:secret@host/x'], /--sink ftp:\/\/\*\*\*@host\/x: unknown scheme ftp:/],
    [['consume'], /give exactly one redis:\/\/ URL/],
    [['consume', 'postgres://u:pw@h/db'], /consume reads Redis streams/],
    [['consume', 'redis://h', '--streams', 'events,trades'], /--streams events,trades: each must be events or audit/],
    [['db'], /give migrate or status/],
    [['db', 'drop', 'postgres://h/x'], /unknown action drop/],
    [['db', 'migrate', 'redis://:pw@h'], /db works on PostgreSQL/],
  ])('%j → exit 2 with the reason and the usage', async (args, msg) => {
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(msg);
    expect(r.stderr).toContain('usage: peak-pressure');
    expect(r.stderr).not.toMatch(/secret|:pw@/);
  });
});

describeWithServices('db and consume commands', (urls) => {
  it('db status says what to run; db migrate applies v1 once; then status is current', async () => {
    const pgUrl = await freshPgDatabase(urls.postgres, `pp_cli_${process.pid}`);
    const name = pgUrl.replace('postgres@', '');
    expect(await cli(['db', 'status', pgUrl])).toMatchObject({
      code: 1,
      stdout: `${name}: schema v0; this build writes v1 (run \`peak-pressure db migrate\`)\n`,
    });
    const m = await cli(['db', 'migrate', pgUrl]);
    expect(m.code).toBe(0);
    expect(m.stdout).toContain(`${name}: schema v0 → v1`);
    expect(await cli(['db', 'migrate', pgUrl])).toMatchObject({ code: 0, stdout: `${name}: already at schema v1\n` });
    expect(await cli(['db', 'status', pgUrl])).toMatchObject({ code: 0, stdout: `${name}: schema v1; this build writes v1 (current)\n` });
  });

  it('db on a server that is not there: one line, exit 1', async () => {
    const r = await cli(['db', 'status', 'postgres://nobody:pw@127.0.0.1:1/x']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^peak-pressure db: cannot connect to postgres:\/\/127\.0\.0\.1:1\/x .*is PostgreSQL running there/);
    expect(r.stderr).not.toContain('pw');
  });

  it('consume prints each event once as a JSON line, dead-letters poison on stderr, and a restart prints nothing again', async () => {
    const redisUrl = redisDb(urls.redis, 3);
    await flushRedis(redisUrl);
    const events = rekeyed(await fixtureEvents(), 'cli', 12);
    const db = join(tmp.dir, 'consume.db');
    fillStore(db, 'run-cli', 1_723_161_400_000, events);
    const outbox = Outbox.open(db);
    const d = new Delivery({ outbox, sinks: [new RedisSink(parseSinkUrl(redisUrl))], tuning: { idlePollMs: 20 } });
    d.start();
    await until(() => d.status()[0]?.backlog === 0 && d.status()[0]?.state === 'OK', 'delivery');
    await d.stop();
    outbox.close();
    const r = new Redis(redisUrl);
    await r.xadd(EVENTS_STREAM, '*', 'id', 'x', 'type', 'peak-pressure-m3', 'json', 'not json');
    r.disconnect();
    const first = await cli(['consume', redisUrl, '--consumer', 'cli-1', '--exit-when-idle']);
    expect(first.code).toBe(0);
    const lines = first.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { stream: string; type: string; id: string; run: string; data: { event_id: string } });
    expect(lines.map((l) => l.id)).toEqual(events.map((e) => e.event_id));
    expect(lines.every((l) => l.stream === 'events' && l.type === 'peak-pressure-m3' && l.run === 'run-cli' && l.data.event_id === l.id)).toBe(true);
    expect(first.stdout).toContain(`"data":${JSON.stringify(events[0])}}`);
    expect(first.stderr).toMatch(/dead-lettered events entry \d+-\d+: json is not JSON/);
    expect(first.stderr).toContain(`consumed ${events.length}, duplicates 0, dead-lettered 1`);
    const again = await cli(['consume', redisUrl, '--consumer', 'cli-1', '--exit-when-idle']);
    expect(again).toMatchObject({ code: 0, stdout: '' });
  });
});
