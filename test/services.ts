/**
 * Real Redis and PostgreSQL servers for the sink tests (SPEC §22).
 *
 * Shared servers: the ones `bash scripts/services.sh start` runs (URLs from PP_TEST_REDIS_URL /
 * PP_TEST_POSTGRES_URL, or from $PP_SERVICES_DIR/env.json). Each test file isolates itself on them
 * (its own Redis database number, its own PostgreSQL database). When CI says PP_REQUIRE_SERVICES=1,
 * a missing server is a failing test, never a skip; on a dev machine without them the tests skip
 * with the reason printed.
 *
 * Private servers: the fault tests kill a server with SIGKILL and restart it, so they run their own
 * instance (same Debian binaries) on a port of their own, never the shared one.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Redis from 'ioredis';
import pg from 'pg';
import { describe, it } from 'vitest';
import { readServiceUrls, type ServiceUrls } from './services-env';

export type { ServiceUrls };

export const REQUIRE_SERVICES = process.env.PP_REQUIRE_SERVICES === '1';

export const SERVICES: ServiceUrls | null = readServiceUrls();

const MISSING = `no Redis/PostgreSQL test servers: run \`bash scripts/services.sh start\` (or set PP_TEST_REDIS_URL and PP_TEST_POSTGRES_URL)`;

/** `describe` that needs the shared servers: fails in CI without them, skips (saying why) elsewhere. */
export function describeWithServices(name: string, body: (urls: ServiceUrls) => void): void {
  if (SERVICES !== null) describe(name, () => body(SERVICES));
  else if (REQUIRE_SERVICES)
    describe(name, () =>
      it('has its servers', () => {
        throw new Error(`PP_REQUIRE_SERVICES=1 but ${MISSING}`);
      }),
    );
  else {
    console.warn(`[skip] ${name}: ${MISSING}`);
    describe.skip(name, () => it('skipped', () => undefined));
  }
}

/** The URL with another Redis database number (each test file uses its own). */
export function redisDb(url: string, db: number): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

/** A fresh PostgreSQL database on the server of `url`; returns its URL. */
export async function freshPgDatabase(url: string, name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

export async function flushRedis(url: string): Promise<void> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await r.connect();
  await r.flushdb();
  r.disconnect();
}

// ---- private servers ---------------------------------------------------------------------------

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0));
    });
  });
}

export function pgBinDir(): string | null {
  if (!existsSync('/usr/lib/postgresql')) return null;
  const dirs = readdirSync('/usr/lib/postgresql')
    .map((v) => join('/usr/lib/postgresql', v, 'bin'))
    .filter((d) => existsSync(join(d, 'postgres')))
    .sort();
  return dirs[dirs.length - 1] ?? null;
}

function which(cmd: string): string | null {
  try {
    return execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** Whether the binaries for private servers exist (in CI they must). */
export function havePrivateServers(): boolean {
  return which('redis-server') !== null && pgBinDir() !== null;
}

/** Polls `check` until it holds (servers starting): an event-driven wait with a deadline, not a sleep. */
export async function until(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 30_000, everyMs = 50): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface PrivateServer {
  url: string;
  /** The server's own process id (the postmaster for PostgreSQL). */
  pid(): number;
  /** SIGKILL: no shutdown, no flush beyond what the server already wrote. */
  kill(): Promise<void>;
  /** Start again on the same port and data. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

function exited(p: ChildProcess): Promise<void> {
  return new Promise((resolve) => (p.exitCode !== null || p.signalCode !== null ? resolve() : p.once('exit', () => resolve())));
}

async function redisAnswers(url: string): Promise<boolean> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 500 });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return (await r.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

export async function privateRedis(dir: string): Promise<PrivateServer> {
  const port = await freePort();
  mkdirSync(dir, { recursive: true });
  const url = `redis://127.0.0.1:${port}`;
  let proc: ChildProcess | null = null;
  const server: PrivateServer = {
    url,
    pid: () => proc?.pid ?? -1,
    start: async () => {
      // appendfsync always: an entry is on disk before Redis acknowledges it, so a SIGKILL loses nothing acknowledged.
      proc = spawn(
        'redis-server',
        ['--bind', '127.0.0.1', '--port', String(port), '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', ''],
        {
          stdio: 'ignore',
        },
      );
      await until(() => redisAnswers(url), `redis on ${port}`);
    },
    kill: async () => {
      if (proc === null) return;
      const p = proc;
      p.kill('SIGKILL');
      await exited(p);
      proc = null;
    },
    stop: async () => {
      if (proc === null) return;
      const p = proc;
      p.kill('SIGTERM');
      await exited(p);
      proc = null;
    },
  };
  return server;
}

async function pgAnswers(url: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
  c.on('error', () => undefined);
  try {
    await c.connect();
    await c.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function privatePostgres(dir: string): Promise<PrivateServer> {
  const bin = pgBinDir();
  if (bin === null) throw new Error('no PostgreSQL binaries under /usr/lib/postgresql (bash scripts/services.sh start installs them)');
  const port = await freePort();
  const data = join(dir, 'data');
  const run = join(dir, 'run');
  mkdirSync(data, { recursive: true });
  mkdirSync(run, { recursive: true });
  // postgres refuses to run as root: as root, it runs as the postgres user (the Debian package's).
  const asPg = (cmd: string, args: string[]): [string, string[]] => (isRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args]);
  if (isRoot) {
    // mkdtemp folders are private (0700): the postgres user must be able to pass through them.
    for (let d = dirname(dir); d.startsWith(tmpdir()) && d !== tmpdir(); d = dirname(d)) chmodSync(d, statSync(d).mode | 0o111);
    const ids = execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim();
    const gid = execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim();
    for (const d of [dir, data, run]) chownSync(d, Number(ids), Number(gid));
  }
  const [initCmd, initArgs] = asPg(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
  execFileSync(initCmd, initArgs, { stdio: 'pipe' });
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let proc: ChildProcess | null = null;
  const postmasterPid = (): number => {
    try {
      return Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    } catch {
      return -1;
    }
  };
  const server: PrivateServer = {
    url,
    pid: postmasterPid,
    start: async () => {
      // After a SIGKILL the old backends leave within moments (they watch the postmaster); until
      // then a new postmaster refuses the old shared memory: try again until it starts.
      await until(
        async () => {
          const [cmd, args] = asPg(join(bin, 'postgres'), [
            '-D',
            data,
            '-p',
            String(port),
            '-k',
            run,
            '-c',
            'listen_addresses=127.0.0.1',
            '-c',
            'fsync=off',
            '-c',
            'full_page_writes=off',
          ]);
          const p = spawn(cmd, args, { stdio: 'ignore' });
          proc = p;
          const up = await Promise.race([until(() => pgAnswers(url), `postgres on ${port}`, 30_000).then(() => true), exited(p).then(() => false)]);
          return up;
        },
        `postgres to start on ${port}`,
        60_000,
        200,
      );
    },
    kill: async () => {
      const pid = postmasterPid();
      if (pid > 0 && pidAlive(pid)) {
        process.kill(pid, 'SIGKILL');
        await until(() => !pidAlive(pid), `postmaster ${pid} to die`);
      }
      if (proc !== null) await exited(proc);
      proc = null;
    },
    stop: async () => {
      const pid = postmasterPid();
      if (pid > 0 && pidAlive(pid)) {
        process.kill(pid, 'SIGINT');
        await until(() => !pidAlive(pid), `postmaster ${pid} to stop`);
      }
      if (proc !== null) await exited(proc);
      proc = null;
    },
  };
  return server;
}
