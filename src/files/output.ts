/**
 * An output file that appears whole or not at all: written to `<file>.<pid>.<ms>.tmp` beside it and
 * renamed into place when the command succeeded, removed when it failed. Devices and pipes
 * (`/dev/null`, `/dev/stdout`, a FIFO) are written directly: renaming over one would replace it.
 */
import { statSync, unlinkSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ensureDirSync, removeCreatedDirs } from './dirs';
import { errnoCode, PathError } from './errors';
import { removeStaleTemps, tempPathFor } from './temp-files';
import { safeMessage } from '../text/safe';

export interface OutputTarget {
  /** Where the result belongs. */
  final: string;
  /** Where it is written meanwhile (= final when direct). */
  writePath: string;
  direct: boolean;
  /** `--out`: the flag that named it, for messages. */
  what: string;
  /** Directories created for it (removed again when the command fails). */
  createdDirs: string[];
}

/** Check and prepare `path` (named by flag `what`); throws PathError naming the flag, the path and the cause. */
export function prepareOutput(path: string, what: string): OutputTarget {
  const final = resolve(path);
  const shown = `${what} ${safeMessage(final)}`;
  let kind: 'missing' | 'file' | 'dir' | 'special' = 'missing';
  try {
    const st = statSync(final);
    kind = st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'special';
  } catch (e) {
    const code = errnoCode(e);
    // ENOTDIR: a file further up the path; creating the directory below names it.
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new PathError(final, `${shown}: ${(e as Error).message}`, { cause: e });
  }
  if (kind === 'dir') throw new PathError(final, `${shown}: is a directory (give a file path)`);
  if (kind === 'special') return { final, writePath: final, direct: true, what, createdDirs: [] };
  let createdDirs: string[];
  try {
    createdDirs = ensureDirSync(dirname(final));
  } catch (e) {
    throw new PathError(final, `${shown}: ${(e as Error).message}`, { cause: e });
  }
  // Temps of runs that were killed before they could rename or remove them.
  removeStaleTemps(final);
  return { final, writePath: tempPathFor(final), direct: false, what, createdDirs };
}

/** The command succeeded: move the result into place. */
export async function commitOutput(t: OutputTarget): Promise<void> {
  if (t.direct) return;
  await rename(t.writePath, t.final);
}

/** The command failed: leave nothing half-written, and no directory it created for nothing. */
export function abandonOutput(t: OutputTarget): void {
  if (t.direct) return;
  try {
    unlinkSync(t.writePath);
  } catch {
    // Not created yet, or already gone.
  }
  removeCreatedDirs(t.createdDirs);
}
