/**
 * How a command ends on bad input: one line on stderr that names the file (or flag) and the cause,
 * exit code 2 for a usage error (with the usage after it) and 1 for everything else. Never a
 * stack trace: a support reader gets the message; the cause is what the user can act on.
 */
import { safeMessage } from '../text/safe';

/** Wrong command line: printed with the command's usage, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Node's parseArgs errors (unknown option, missing value, unexpected positional) are usage errors. */
function isParseArgsError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_');
}

/** The first sentence of Node's parseArgs message: "Unknown option '--bogus'". */
function shortParseMessage(message: string): string {
  const dot = message.indexOf('. ');
  return dot > 0 ? message.slice(0, dot) : message;
}

/** Print `err` for command `prog` (e.g. `peak-pressure replay`) and return the exit code. */
export function reportCommandError(prog: string, err: unknown, usage: string | undefined, write: (s: string) => void = (s) => process.stderr.write(s)): number {
  const usageError = err instanceof UsageError || isParseArgsError(err);
  const raw = err instanceof Error ? err.message : String(err);
  const message = usageError && !(err instanceof UsageError) ? shortParseMessage(raw) : raw;
  write(`${prog}: ${safeMessage(message)}\n`);
  if (usageError && usage !== undefined) write(`\n${usage}`);
  return usageError ? 2 : 1;
}
