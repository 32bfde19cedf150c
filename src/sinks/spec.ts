/**
 * `--sink URL` (SPEC §22): which sink a URL names, and its name without credentials — the name in
 * logs, in the snapshot and in the store's cursor table, so a password never lands in any of them.
 * One option of ours rides on the URL's query, `windows=1` (PostgreSQL only): also write every closed
 * window to the `windows` table (off by default). It is taken out of the URL the driver sees; every
 * other query parameter (sslmode, …) is the driver's.
 */
import { z } from 'zod';
import { type SinkKind, SinkKindSchema } from '../core/contracts/sink-status';

export const SinkSpecSchema = z.object({
  kind: SinkKindSchema,
  /** The URL as given (credentials included, our `windows` option taken out): only the client library sees it. */
  url: z.string(),
  /** scheme://host:port/path, no user, password or query. */
  name: z.string(),
  /** `?windows=1`: closed windows go to the PostgreSQL `windows` table too. */
  windows: z.boolean(),
});
export type SinkSpec = z.infer<typeof SinkSpecSchema>;

export class SinkSpecError extends Error {
  override name = 'SinkSpecError';
}

const WINDOWS_PARAM = 'windows';

const KINDS: Readonly<Record<string, SinkKind>> = { 'redis:': 'redis', 'rediss:': 'redis', 'postgres:': 'postgres', 'postgresql:': 'postgres' };

export function parseSinkUrl(text: string): SinkSpec {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new SinkSpecError(`${redactedForError(text)}: not a URL; use redis://HOST:PORT[/DB] or postgres://USER@HOST:PORT/DATABASE`);
  }
  const kind = KINDS[u.protocol];
  if (kind === undefined) {
    throw new SinkSpecError(`${redactedForError(text)}: unknown scheme ${u.protocol} (sinks are redis://, rediss://, postgres:// and postgresql://)`);
  }
  if (u.hostname === '') throw new SinkSpecError(`${redactedForError(text)}: the URL names no host`);
  const path = u.pathname === '/' ? '' : u.pathname;
  const w = u.searchParams.get(WINDOWS_PARAM);
  if (w === null) return { kind, url: text, name: `${u.protocol}//${u.host}${path}`, windows: false };
  if (w !== '1' && w !== '0')
    throw new SinkSpecError(`${redactedForError(text)}: windows=${w.slice(0, 20)}: use windows=1 (write closed windows) or leave it out`);
  if (kind !== 'postgres' && w === '1')
    throw new SinkSpecError(`${redactedForError(text)}: windows=1 is a PostgreSQL option (the windows table); Redis gets events and audit records only`);
  u.searchParams.delete(WINDOWS_PARAM);
  return { kind, url: u.toString(), name: `${u.protocol}//${u.host}${path}`, windows: w === '1' };
}

/** Sinks from repeated `--sink` flags; the same sink twice is one sink. */
export function parseSinkUrls(texts: readonly string[]): SinkSpec[] {
  const byName = new Map<string, SinkSpec>();
  for (const t of texts) {
    const s = parseSinkUrl(t);
    if (!byName.has(s.name)) byName.set(s.name, s);
  }
  return [...byName.values()];
}

function redactedForError(text: string): string {
  return text.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#@\s]*@/i, '$1***@').slice(0, 200);
}

/** Whether any of `sinks` takes closed windows (else the collector need not build them). Here, not in the hub: the collector asks before it loads the sink clients. */
export function wantsWindows(sinks: readonly SinkSpec[]): boolean {
  return sinks.some((s) => s.windows && s.kind === 'postgres');
}
