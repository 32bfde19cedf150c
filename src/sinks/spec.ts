/**
 * `--sink URL` (SPEC §22): which sink a URL names, and its name without credentials — the name in
 * logs, in the snapshot and in the store's cursor table, so a password never lands in any of them.
 */
import type { SinkKind } from '../core/contracts/sink-status';

export interface SinkSpec {
  kind: SinkKind;
  /** The URL as given (credentials included): only the client library sees it. */
  url: string;
  /** scheme://host:port/path, no user, password or query. */
  name: string;
}

export class SinkSpecError extends Error {
  override name = 'SinkSpecError';
}

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
  return { kind, url: text, name: `${u.protocol}//${u.host}${path}` };
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
