/**
 * Bad paths through the real CLI (issue 9 item 4): every command, given a missing, unreadable,
 * endless or corrupted input, an output that is a directory or cannot be created (procfs, where
 * Node's recursive mkdir spins for ever), an unwritable dead-letter file, or an unknown flag,
 * ends within its timeout with exit code 1 or 2, one line on stderr naming the file and the cause
 * (the usage after it for a wrong command line), no stack trace, and nothing left behind.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, ensureCliBuilt, FIXTURE_BTC } from './fixtures/paths';

const tmp = mkdtempSync(join(tmpdir(), 'pp-cli-bad-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
beforeAll(() => ensureCliBuilt());

const HAVE_PROC = existsSync('/proc/self');
const HAVE_DEV_FULL = existsSync('/dev/full');

/** Every file and directory under `dir`, relative. */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      out.push(r);
      if (e.isDirectory()) walk(join(d, e.name), r);
    }
  };
  walk(dir, '');
  return out.sort();
}

// Inputs made once: a gzip corrupted in the middle, one with a broken header, garbage lines.
const inputs = join(tmp, 'inputs');
mkdirSync(inputs);
const CORRUPT_GZ = join(inputs, 'corrupt.gz');
const BAD_HEADER_GZ = join(inputs, 'bad-header.gz');
const GARBAGE = join(inputs, 'garbage.txt');
{
  const good = readFileSync(FIXTURE_BTC);
  const bad = Buffer.from(good);
  bad.fill(0x55, Math.floor(bad.length / 2), Math.floor(bad.length / 2) + 4096);
  writeFileSync(CORRUPT_GZ, bad);
  writeFileSync(BAD_HEADER_GZ, Buffer.concat([Buffer.from([0x1f, 0x8b, 0x00, 0x00]), Buffer.alloc(64, 0x41)]));
  writeFileSync(GARBAGE, `${Array.from({ length: 50 }, (_, i) => `garbage line ${i}`).join('\n')}\n`);
}

interface Case {
  name: string;
  args: (dir: string) => string[];
  env?: Record<string, string>;
  code: 1 | 2;
  /** The first stderr line, exactly or as a pattern ({dir} = the case's working directory). */
  first: string | RegExp;
  /** Files the run may leave in its working directory (default: none). */
  leaves?: string[];
  when?: boolean;
}

const CASES: Case[] = [
  {
    name: 'replay of a missing file',
    args: () => ['replay', '/nonexistent.gz'],
    code: 1,
    first: 'peak-pressure replay: cannot read /nonexistent.gz: no such file or directory (ENOENT)',
  },
  {
    name: 'replay with a missing second file (nothing written for the first)',
    args: () => ['replay', FIXTURE_BTC, '/nonexistent.gz'],
    code: 1,
    first: 'peak-pressure replay: cannot read /nonexistent.gz: no such file or directory (ENOENT)',
  },
  {
    name: 'replay of a directory',
    args: () => ['replay', inputs],
    code: 1,
    first: `peak-pressure replay: cannot read ${inputs}: is a directory (give a capture file)`,
  },
  {
    name: 'replay --out a directory',
    args: () => ['replay', FIXTURE_BTC, '--out', tmpdir()],
    code: 1,
    first: `peak-pressure replay: --out ${tmpdir()}: is a directory (give a file path)`,
  },
  {
    name: 'replay of /dev/zero (an endless line)',
    args: () => ['replay', '/dev/zero'],
    code: 1,
    first: 'peak-pressure replay: cannot read /dev/zero: line 1 is longer than 33554432 characters (not a capture file?)',
    when: existsSync('/dev/zero'),
  },
  {
    name: 'replay of a gzip corrupted in the middle',
    args: () => ['replay', CORRUPT_GZ, '--symbols', 'BTCUSDT'],
    code: 1,
    first: new RegExp(`^peak-pressure replay: cannot read ${CORRUPT_GZ}: not a valid gzip file \\(.+\\) after line \\d+$`),
  },
  {
    name: 'replay of a gzip with a broken header',
    args: () => ['replay', BAD_HEADER_GZ, '--symbols', 'BTCUSDT'],
    code: 1,
    first: new RegExp(`^peak-pressure replay: cannot read ${BAD_HEADER_GZ}: not a valid gzip file \\(.+\\) after line 0$`),
  },
  {
    name: 'replay --out under procfs (Node recursive mkdir spins for ever there)',
    args: () => ['replay', FIXTURE_BTC, '--out', '/proc/x/y/events.jsonl'],
    code: 1,
    first: 'peak-pressure replay: --out /proc/x/y/events.jsonl: cannot create directory /proc/x/y (at /proc/x): no such file or directory (ENOENT)',
    when: HAVE_PROC,
  },
  {
    name: 'replay --dead-letters under procfs (the default --out directory is not left behind)',
    args: () => ['replay', FIXTURE_BTC, '--dead-letters', '/proc/x/dl.jsonl'],
    code: 1,
    first: 'peak-pressure replay: --dead-letters /proc/x/dl.jsonl: cannot create directory /proc/x: no such file or directory (ENOENT)',
    when: HAVE_PROC,
  },
  {
    name: 'replay --out under a regular file',
    args: () => ['replay', FIXTURE_BTC, '--out', join(GARBAGE, 'events.jsonl')],
    code: 1,
    first: `peak-pressure replay: --out ${join(GARBAGE, 'events.jsonl')}: cannot create directory ${inputs}/garbage.txt: ${GARBAGE} is not a directory`,
  },
  {
    name: 'replay --dead-letters to a full device: the failure is reported, the events file is not left half-done',
    args: (dir) => ['replay', GARBAGE, '--symbols', 'BTCUSDT', '--dead-letters', '/dev/full', '--out', join(dir, 'events.jsonl')],
    code: 1,
    first: 'peak-pressure replay: --dead-letters: could not write 50 dead letter(s): /dev/full: no space left on the device (ENOSPC)',
    when: HAVE_DEV_FULL,
  },
  { name: 'replay with an unknown flag', args: () => ['replay', FIXTURE_BTC, '--bogus'], code: 2, first: "peak-pressure replay: Unknown option '--bogus'" },
  { name: 'replay without a file', args: () => ['replay'], code: 2, first: 'peak-pressure replay: give at least one capture file' },
  { name: 'live with an unknown flag', args: () => ['live', '--headless', '--bogus'], code: 2, first: "peak-pressure live: Unknown option '--bogus'" },
  {
    name: 'live without --headless',
    args: () => ['live'],
    code: 2,
    first: 'peak-pressure live: live runs only with --headless here (the window is `npm start`)',
  },
  {
    name: 'live with a missing config file',
    args: () => ['live', '--headless', '--config', '/nonexistent.json'],
    code: 1,
    first: 'peak-pressure live: cannot read config file /nonexistent.json: no such file or directory (ENOENT)',
  },
  {
    name: 'live with a config value beyond its bound (the issue: 30-day rotation)',
    args: (dir) => {
      writeFileSync(join(dir, 'c.json'), '{"rotateAfterMs":2592000000}');
      return ['live', '--headless', '--config', join(dir, 'c.json')];
    },
    code: 1,
    first:
      /^peak-pressure live: invalid config: file .*\/c\.json: rotateAfterMs: must be a whole number from 1 s to 24 h \(1000–86400000 ms\) \(got 2592000000\); fix the file/,
    leaves: ['c.json'],
  },
  {
    name: 'live with a bad env variable (named)',
    args: () => ['live', '--headless'],
    env: { PEAK_PRESSURE_LOG_LEVEL: 'loud' },
    code: 1,
    first: /^peak-pressure live: invalid configuration: env PEAK_PRESSURE_LOG_LEVEL: logLevel: .*\(got "loud"\)$/,
  },
  {
    name: 'live with credentials in a bad URL (redacted)',
    args: () => ['live', '--headless', '--ws-url', 'http://user:hunter2@127.0.0.1:1'],
    code: 1,
    first: 'peak-pressure live: invalid configuration: --ws-url: wsUrl: must be a URL starting with wss: or ws: (got "http://***@127.0.0.1:1")',
  },
  {
    name: 'live with a debug directory under procfs (before any worker starts)',
    args: () => ['live', '--headless', '--debug-dir', '/proc/x/debug'],
    code: 1,
    first: 'peak-pressure live: --debug-dir: cannot create directory /proc/x/debug (at /proc/x): no such file or directory (ENOENT)',
    when: HAVE_PROC,
  },
  {
    name: 'live with a capture directory under procfs (the debug directory it made is removed again)',
    args: (dir) => ['live', '--headless', '--debug-dir', join(dir, 'debug'), '--capture-dir', '/proc/x/captures'],
    code: 1,
    first: 'peak-pressure live: --capture-dir: cannot create directory /proc/x/captures (at /proc/x): no such file or directory (ENOENT)',
    when: HAVE_PROC,
  },
  { name: 'contract with an unknown flag', args: () => ['contract', '--bogus'], code: 2, first: "peak-pressure contract: Unknown option '--bogus'" },
  {
    name: 'contract --dir under procfs',
    args: () => ['contract', '--dir', '/proc/x'],
    code: 1,
    first: 'peak-pressure contract: cannot create directory /proc/x: no such file or directory (ENOENT)',
    when: HAVE_PROC,
  },
  { name: 'simulate with an unknown flag', args: () => ['simulate', '--bogus'], code: 2, first: "peak-pressure simulate: Unknown option '--bogus'" },
  { name: 'simulate with a bad port', args: () => ['simulate', '--port', '99999'], code: 2, first: 'peak-pressure simulate: bad --port 99999' },
  {
    name: 'simulate with a missing data directory',
    args: () => ['simulate', '--data', '/nonexistent'],
    code: 1,
    first: /^peak-pressure simulate: simulator: no recorded trade data found .*looked in: \/nonexistent$/,
  },
  { name: 'an unknown command', args: () => ['bogus'], code: 2, first: "peak-pressure: unknown command 'bogus'" },
];

/** The CLI as a child process, killed after `timeoutMs` (then `timedOut`). */
function runCli(
  args: string[],
  cwd: string,
  env: Record<string, string> | undefined,
  timeoutMs: number,
): Promise<{ status: number | null; stdout: string; stderr: string; timedOut: boolean }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    p.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    p.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const t = setTimeout(() => {
      timedOut = true;
      p.kill('SIGKILL');
    }, timeoutMs);
    p.once('error', reject);
    p.once('close', (status) => {
      clearTimeout(t);
      resolve({ status, stdout, stderr, timedOut });
    });
  });
}

const STACK_LINE = /^\s+at .+:\d+:\d+\)?$/m;

describe('CLI bad paths: one line, exit 1 or 2, no stack, no hang, nothing left behind', () => {
  let n = 0;
  // Concurrent: each case is a process start (~0.3 s), most of it waiting.
  it.concurrent.each(CASES.filter((c) => c.when !== false).map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const dir = join(tmp, `case${++n}`);
    mkdirSync(dir);
    const args = c.args(dir);
    const r = await runCli(args, dir, c.env, 20_000);
    expect(r.timedOut, `did not end within 20 s: ${args.join(' ')}`).toBe(false);
    expect(r.status, r.stderr).toBe(c.code);
    const lines = r.stderr.split('\n');
    if (typeof c.first === 'string') expect(lines[0]).toBe(c.first);
    else expect(lines[0]).toMatch(c.first);
    if (c.code === 2) {
      // A wrong command line: the error, then the command's usage.
      expect(lines[1]).toBe('');
      expect(lines[2]).toMatch(/^usage: peak-pressure/);
    } else expect(lines.slice(1)).toEqual(['']);
    expect(r.stderr).not.toMatch(STACK_LINE);
    expect(r.stderr).not.toContain('node:internal');
    expect(r.stdout).toBe('');
    expect(tree(dir)).toEqual((c.leaves ?? []).sort());
  });

  it('a good replay moves its outputs into place and leaves no temp files', () => {
    const dir = join(tmp, 'good');
    mkdirSync(dir);
    const r = spawnSync(process.execPath, [CLI, 'replay', FIXTURE_BTC, GARBAGE, '--json'], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(tree(dir)).toEqual(['debug', 'debug/replay_dead_letters.jsonl', 'debug/replay_events.jsonl']);
    expect(
      readFileSync(join(dir, 'debug', 'replay_dead_letters.jsonl'), 'utf8')
        .trim()
        .split('\n'),
    ).toHaveLength(50);
    expect((JSON.parse(r.stdout) as { dead_letters: number }).dead_letters).toBe(50);
    // Replaying again without bad lines: the dead letters of the last run do not linger.
    const again = spawnSync(process.execPath, [CLI, 'replay', FIXTURE_BTC, '--json'], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
    expect(again.status, again.stderr).toBe(0);
    expect(tree(dir)).toEqual(['debug', 'debug/replay_events.jsonl']);
  });
});
