/**
 * Sections that must not run in the main bench process (NodeGui aborts without a display; the
 * throughput figures need V8 flags of their own) run in a child of this same bundle:
 * `node [flags] dist/bench.js --<name>-child --out=FILE …`. The child writes its result as JSON to
 * FILE; the parent reads it back. Any failure carries the child's last stderr.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ChildRun {
  /** `--<name>-child` selects the child's entry in bench.ts. */
  name: string;
  root: string;
  args: readonly string[];
  /** V8/node flags for the child (before the script). */
  nodeFlags?: readonly string[];
  env?: NodeJS.ProcessEnv;
  /** Runs the child through this command prefix (e.g. `taskset -c 0`), which then execs node. */
  prefix?: readonly string[];
  timeoutMs: number;
  /** The child's stderr lines as they come (its progress log). */
  onStderr?: (chunk: string) => void;
}

/** `node argv…`, or `prefix… node argv…` when a prefix (e.g. `taskset -c 0`) is to exec node: command and its arguments. */
export function nodeCommand(prefix: readonly string[], argv: readonly string[]): [string, string[]] {
  const [cmd, ...rest] = [...prefix, process.execPath, ...argv] as [string, ...string[]];
  return [cmd, rest];
}

/** Runs the child and returns the JSON it wrote (unchecked: the caller validates its shape). */
export async function runBenchChild(run: ChildRun): Promise<unknown> {
  const dir = mkdtempSync(join(tmpdir(), `pp-${run.name}-bench-`));
  const out = join(dir, 'result.json');
  const argv = [...(run.nodeFlags ?? []), join(run.root, 'dist', 'bench.js'), `--${run.name}-child`, `--out=${out}`, ...run.args];
  let stderr = '';
  try {
    const code = await new Promise<number | null>((resolve) => {
      const [cmd, rest] = nodeCommand(run.prefix ?? [], argv);
      const child = spawn(cmd, rest, { cwd: run.root, env: run.env ?? process.env, stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr.on('data', (c: Buffer) => {
        const s = c.toString();
        stderr = (stderr + s).slice(-4000);
        run.onStderr?.(s);
      });
      const t = setTimeout(() => child.kill('SIGKILL'), run.timeoutMs);
      child.on('exit', (c) => {
        clearTimeout(t);
        resolve(c);
      });
    });
    let raw: unknown = null;
    try {
      raw = JSON.parse(readFileSync(out, 'utf8'));
    } catch {
      raw = null;
    }
    if (code !== 0 || raw === null) throw new Error(`${run.name} child failed (exit ${code}); its stderr ends: ${stderr}`);
    return raw;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `--name=value` of a child's argv. */
export function argValue(argv: readonly string[], name: string): string | undefined {
  const a = argv.find((x) => x.startsWith(`--${name}=`));
  return a === undefined ? undefined : a.slice(name.length + 3);
}
