/**
 * Creating a directory and its parents without Node's `recursive: true`, which never returns on a
 * file system that answers ENOENT to every mkdir (procfs: `mkdir /proc/x/y` spins at 100 % CPU for
 * ever, in mkdirSync and in fs.promises.mkdir alike). Here each missing level is created once, in
 * order, and the first refusal is an error that names the level and the cause.
 */
import { mkdirSync, rmdirSync, statSync, type Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { describeFsError, errnoCode, PathError } from './errors';
import { safeMessage } from '../text/safe';

/** `abs` and each of its parents, innermost first, up to the root. */
function levels(abs: string): string[] {
  const out = [abs];
  for (let up = dirname(abs); up !== out[out.length - 1]; up = dirname(up)) out.push(up);
  return out;
}

/** true: a directory; false: not found (create it); throws when something else is in the way. */
function judge(abs: string, level: string, st: Stats | null, err: unknown): boolean {
  if (st !== null) {
    if (st.isDirectory()) return true;
    throw new PathError(abs, `cannot create directory ${safeMessage(abs)}: ${safeMessage(level)} is not a directory`);
  }
  // ENOTDIR: a file further up; the walk reaches it and names it.
  const code = errnoCode(err);
  if (code === 'ENOENT' || code === 'ENOTDIR') return false;
  throw new PathError(abs, `cannot use ${safeMessage(level)}: ${describeFsError(err)}`, { cause: err });
}

function refused(abs: string, level: string, e: unknown): PathError {
  const at = level === abs ? '' : ` (at ${safeMessage(level)})`;
  return new PathError(abs, `cannot create directory ${safeMessage(abs)}${at}: ${describeFsError(e)}`, { cause: e });
}

/**
 * mkdir -p that always terminates; throws PathError naming the path and the cause. Returns the
 * directories it created, outermost first, so a command that fails later can remove them again.
 */
export function ensureDirSync(path: string): string[] {
  const abs = resolve(path);
  const all = levels(abs);
  let missing = 0;
  for (const level of all) {
    let st: Stats | null = null;
    let err: unknown = null;
    try {
      st = statSync(level);
    } catch (e) {
      err = e;
    }
    if (judge(abs, level, st, err)) break;
    missing++;
  }
  const created: string[] = [];
  for (let i = missing - 1; i >= 0; i--) {
    const level = all[i] as string;
    try {
      mkdirSync(level);
      created.push(level);
    } catch (e) {
      // Another process may have created it meanwhile; anything else is final.
      if (errnoCode(e) === 'EEXIST') continue;
      removeCreatedDirs(created);
      throw refused(abs, level, e);
    }
  }
  return created;
}

/** Undo ensureDirSync: remove these directories, innermost first, where they are still empty. */
export function removeCreatedDirs(created: readonly string[]): void {
  for (let i = created.length - 1; i >= 0; i--) {
    try {
      rmdirSync(created[i] as string);
    } catch {
      // Not empty (someone put a file there) or already gone: leave it.
    }
  }
}

/**
 * The same for the collector's files: the common case (the directory exists) is one asynchronous
 * stat; creating levels is rare (first write of a run) and takes a few synchronous syscalls.
 */
export async function ensureDir(path: string): Promise<void> {
  const abs = resolve(path);
  try {
    if ((await stat(abs)).isDirectory()) return;
  } catch {
    // Missing or unreadable: the synchronous walk says which level and why.
  }
  ensureDirSync(abs);
}
