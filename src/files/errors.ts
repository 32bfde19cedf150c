/**
 * File-system errors in words a user can act on, with the code kept for searching: a one-line
 * `cause` for messages of the form "<what> <path>: <cause>".
 */
import { safeMessage } from '../text/safe';

const WORDS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory',
  ENOTDIR: 'a part of the path is not a directory',
  ENOSPC: 'no space left on the device',
  EROFS: 'read-only file system',
  EEXIST: 'already exists',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'name too long',
  EMFILE: 'too many open files',
  EBUSY: 'busy (held by another program)',
  EIO: 'input/output error',
  EINVAL: 'invalid argument for this file system',
  ENXIO: 'no such device',
  ENODEV: 'no such device',
};

export function errnoCode(e: unknown): string | undefined {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** `permission denied (EACCES)`; any other error: its message, made safe for a terminal. */
export function describeFsError(e: unknown): string {
  const code = errnoCode(e);
  const words = code === undefined ? undefined : WORDS[code];
  if (words !== undefined && code !== undefined) return `${words} (${code})`;
  return safeMessage(e instanceof Error ? e.message : String(e));
}

/** An error about one path: its message is the one line the CLI prints. */
export class PathError extends Error {
  override name = 'PathError';
  constructor(
    readonly path: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
