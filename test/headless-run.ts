/**
 * The headless collector as the user runs it (`node dist/cli.js live --headless`, its own process,
 * the worker thread inside) against a loopback simulator in the test process, with a temp
 * directory for everything it writes. For tests that need the real process: signals, exit codes,
 * the files a run leaves, what reaches its console.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, REPO_ROOT } from './fixtures/paths';

export interface HeadlessRun {
  child: ChildProcess;
  dir: string;
  debugDir: string;
  captureDir: string;
  /** stdout, line by line, as it came. */
  stdout: string[];
  stderr(): string;
  /** Resolves when the process ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Wait (wall time, polling every 20 ms) until `pred` holds; fail naming `what` after `ms`. */
  until(what: string, pred: () => boolean, ms?: number): Promise<void>;
}

export function startHeadless(args: readonly string[], opts: { dir?: string; env?: NodeJS.ProcessEnv } = {}): HeadlessRun {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'pp-headless-'));
  const debugDir = join(dir, 'debug');
  const captureDir = join(dir, 'captures');
  const child = spawn(process.execPath, [CLI, 'live', '--headless', '--debug-dir', debugDir, '--capture-dir', captureDir, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...(opts.env ?? {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: string[] = [];
  let buf = '';
  let err = '';
  child.stdout?.on('data', (c: Buffer) => {
    buf += c.toString('utf8');
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      stdout.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
  child.stderr?.on('data', (c: Buffer) => {
    err += c.toString('utf8');
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      if (buf.length > 0) stdout.push(buf);
      buf = '';
      resolve({ code, signal });
    });
  });
  let done = false;
  void exited.then(() => {
    done = true;
  });
  return {
    child,
    dir,
    debugDir,
    captureDir,
    stdout,
    stderr: () => err,
    exited,
    until: async (what, pred, ms = 30_000) => {
      const giveUp = Date.now() + ms;
      for (;;) {
        let ok: boolean;
        try {
          ok = pred();
        } catch {
          ok = false;
        }
        if (ok) return;
        if (Date.now() > giveUp || done)
          throw new Error(`${done ? 'the collector exited' : `not true after ${ms} ms`} waiting for: ${what}\nstdout:\n${stdout.join('\n')}\nstderr:\n${err}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}
