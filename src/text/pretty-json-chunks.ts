/**
 * `JSON.stringify(value, null, 2) + '\n'` as UTF-8 buffers of about `chunkChars` characters each,
 * byte for byte the same text, for the snapshot file (debug/latest_snapshot.json, ~1.2 MB every
 * 5 s).
 *
 * Why not one string: V8 builds a large JSON.stringify result as a chain of parts and flattens it
 * when it is encoded, so the whole text existed twice in the worker's heap, large enough to be
 * allocated in the old generation directly, and lived across the write's awaits. In the demo that
 * was half of everything the collector worker put into its old generation (sampling heap profile
 * without the objects scavenges collect: 24.7 of 47.7 MB a minute), and so half of what set the
 * pace of its full GCs. Here the text is cut at the top two levels of the tree; each piece is
 * stringified natively, re-indented, and turned into a buffer before the next one is made, all
 * before the caller's first await, so the strings die young and only off-heap buffers stay for the
 * write. One difference from JSON.stringify, out of the snapshot's reach: a toJSON whose result has
 * a toJSON of its own, below the top two levels, is called again.
 */

const DEFAULT_CHUNK_CHARS = 64 * 1024;
/** Containers at depth < SPLIT_DEPTH are walked here; deeper ones go to JSON.stringify whole. */
const SPLIT_DEPTH = 3;

function indentOf(depth: number): string {
  return '  '.repeat(depth);
}

/** What JSON.stringify would do with `v` as the value under `key`: its toJSON first. */
function toJsonValue(v: unknown, key: string): unknown {
  if (v !== null && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function') {
    return (v as { toJSON: (k: string) => unknown }).toJSON(key);
  }
  return v;
}

/** JSON.stringify leaves out object members whose value is undefined, a function or a symbol. */
function omitted(v: unknown): boolean {
  return v === undefined || typeof v === 'function' || typeof v === 'symbol';
}

export function prettyJsonChunks(value: unknown, chunkChars = DEFAULT_CHUNK_CHARS): Buffer[] {
  const out: Buffer[] = [];
  let pending: string[] = [];
  let pendingChars = 0;
  const flush = (): void => {
    if (pendingChars === 0) return;
    out.push(Buffer.from(pending.join(''), 'utf8'));
    pending = [];
    pendingChars = 0;
  };
  const push = (s: string): void => {
    pending.push(s);
    pendingChars += s.length;
    if (pendingChars >= chunkChars) flush();
  };
  /** A value that is not left out, at `depth` (its first line is already indented by the caller). */
  const emit = (v: unknown, depth: number): void => {
    if (depth >= SPLIT_DEPTH || v === null || typeof v !== 'object') {
      const text = JSON.stringify(v, null, 2) as string | undefined;
      // Arrays hold undefined, functions and symbols as null (object members are skipped before here).
      const s = text === undefined ? 'null' : text;
      push(depth === 0 ? s : s.replaceAll('\n', `\n${indentOf(depth)}`));
      return;
    }
    const inner = indentOf(depth + 1);
    if (Array.isArray(v)) {
      if (v.length === 0) return push('[]');
      push('[');
      for (let i = 0; i < v.length; i++) {
        push(i === 0 ? `\n${inner}` : `,\n${inner}`);
        const item = toJsonValue(v[i], String(i));
        emit(omitted(item) ? null : item, depth + 1);
      }
      push(`\n${indentOf(depth)}]`);
      return;
    }
    let first = true;
    for (const k of Object.keys(v)) {
      const item = toJsonValue((v as Record<string, unknown>)[k], k);
      if (omitted(item)) continue;
      push(`${first ? '{' : ','}\n${inner}${JSON.stringify(k)}: `);
      first = false;
      emit(item, depth + 1);
    }
    push(first ? '{}' : `\n${indentOf(depth)}}`);
  };
  const top = toJsonValue(value, '');
  if (omitted(top)) throw new Error('prettyJsonChunks: the value has no JSON text (undefined, a function or a symbol); pass a JSON value');
  emit(top, 0);
  push('\n');
  flush();
  return out;
}
