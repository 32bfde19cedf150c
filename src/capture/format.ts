/**
 * Capture line formats. Ours (written by the live recorder, read by replay):
 *
 *   #peak-pressure-capture v1 {"run_id":…,"symbols":[…],"started_ms":…}     ← header, optional
 *   <recv_ms> <source> <raw text exactly as received>
 *
 * `source` is `ws:<path>` or `rest:<path?query>` and never contains a space. A frame whose text
 * contains a line break (only garbage does) is written as `<recv_ms> <source>~json <JSON string>`
 * so one line is always one frame. A frame the socket refused before it could be read as text
 * (binary, over the size cap) is written as `<recv_ms> <source>~refused:<reason> <JSON string>`,
 * so the capture holds every frame received, and says which ones never reached the normalizer.
 *
 * Also read, unchanged, so real third-party recordings replay directly:
 *   hftbacktest / collect-binancefutures: `<ts> <json>` with ts in ns (19 digits) or µs (16);
 *   cryptofeed: `<seconds.frac>: <json>`, REST `<url> -> <seconds.frac>: <body>`.
 */
import type { Frame } from '../core/source';

export const CAPTURE_MAGIC = '#peak-pressure-capture v1';

export interface CaptureHeader {
  run_id?: string;
  symbols?: string[];
  started_ms?: number;
  mode?: string;
  /** Part number when a recording rotates across files. */
  part?: number;
}

export type LineResult =
  | { kind: 'frame'; frame: Frame }
  /** A frame the live socket refused (`reason`: binary_frame, oversized_frame); `frame.text` is what it carried. */
  | { kind: 'refused'; frame: Frame; reason: string }
  | { kind: 'header'; header: CaptureHeader }
  | { kind: 'skip'; why: string }
  | { kind: 'bad'; reason: string };

const JSON_SUFFIX = '~json';
const REFUSED_MARK = '~refused:';

/** Encode one frame as one capture line (without the trailing newline). */
export function formatCaptureLine(frame: Frame): string {
  if (frame.source.includes(' ')) throw new Error(`capture source must not contain spaces: ${JSON.stringify(frame.source)}`);
  const text = frame.text;
  if (text.includes('\n') || text.includes('\r')) return `${frame.recv_ms} ${frame.source}${JSON_SUFFIX} ${JSON.stringify(text)}`;
  return `${frame.recv_ms} ${frame.source} ${text}`;
}

/** Encode one refused frame as one capture line: the text always JSON-escaped (binary can hold anything). */
export function formatRefusedLine(frame: Frame, reason: string): string {
  if (frame.source.includes(' ')) throw new Error(`capture source must not contain spaces: ${JSON.stringify(frame.source)}`);
  if (!/^[a-z0-9_]+$/.test(reason)) throw new Error(`a refusal reason is a snake_case word, got ${JSON.stringify(reason)}`);
  return `${frame.recv_ms} ${frame.source}${REFUSED_MARK}${reason} ${JSON.stringify(frame.text)}`;
}

export function formatCaptureHeader(h: CaptureHeader): string {
  return `${CAPTURE_MAGIC} ${JSON.stringify(h)}`;
}

function isDigits(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** Integer epoch timestamp of 10 (s), 13 (ms), 16 (µs) or 19 (ns) digits → ms, without losing precision. */
export function epochDigitsToMs(d: string): number | null {
  if (d.length === 13 || d.length === 16 || d.length === 19) return Number(d.slice(0, 13));
  if (d.length === 10) return Number(d) * 1000;
  return null;
}

function decodeJsonString(text: string): string | null {
  try {
    const decoded: unknown = JSON.parse(text);
    return typeof decoded === 'string' ? decoded : null;
  } catch {
    return null;
  }
}

function urlToSource(url: string): string {
  const m = /^(wss?|https?):\/\/[^/]+(\/.*)?$/.exec(url);
  if (!m) return '';
  const path = m[2] ?? '/';
  return m[1]?.startsWith('ws') ? `ws:${path.split('?')[0]}` : `rest:${path}`;
}

/** Parse one line of any supported format. Pure; never throws. */
export function parseCaptureLine(line: string): LineResult {
  if (line.length === 0) return { kind: 'skip', why: 'empty' };
  if (line.charCodeAt(line.length - 1) === 13) line = line.slice(0, -1);
  if (line.startsWith('#')) {
    if (line.startsWith(CAPTURE_MAGIC)) {
      try {
        const h = JSON.parse(line.slice(CAPTURE_MAGIC.length).trim() || '{}') as CaptureHeader;
        return { kind: 'header', header: typeof h === 'object' && h !== null ? h : {} };
      } catch {
        return { kind: 'bad', reason: 'capture_header_not_json' };
      }
    }
    return { kind: 'skip', why: 'comment' };
  }
  const sp = line.indexOf(' ');
  if (sp <= 0) return { kind: 'bad', reason: 'no_timestamp' };
  const first = line.slice(0, sp);

  if (isDigits(first)) {
    const recv = epochDigitsToMs(first);
    if (recv === null) return { kind: 'bad', reason: 'timestamp_unit_unknown' };
    const rest = line.slice(sp + 1);
    // Ours: a source token then the raw text. hftbacktest: the JSON follows the timestamp directly.
    if (rest.startsWith('ws:') || rest.startsWith('rest:')) {
      const sp2 = rest.indexOf(' ');
      if (sp2 < 0) return { kind: 'frame', frame: { recv_ms: recv, source: rest, text: '' } };
      let source = rest.slice(0, sp2);
      let text = rest.slice(sp2 + 1);
      const refused = source.indexOf(REFUSED_MARK);
      if (refused > 0) {
        const decoded = decodeJsonString(text);
        if (decoded === null) return { kind: 'bad', reason: 'refused_frame_not_a_json_string' };
        return {
          kind: 'refused',
          frame: { recv_ms: recv, source: source.slice(0, refused), text: decoded },
          reason: source.slice(refused + REFUSED_MARK.length),
        };
      }
      if (source.endsWith(JSON_SUFFIX)) {
        source = source.slice(0, -JSON_SUFFIX.length);
        try {
          const decoded: unknown = JSON.parse(text);
          if (typeof decoded !== 'string') return { kind: 'bad', reason: 'escaped_frame_not_a_string' };
          text = decoded;
        } catch {
          return { kind: 'bad', reason: 'escaped_frame_not_json' };
        }
      }
      return { kind: 'frame', frame: { recv_ms: recv, source, text } };
    }
    return { kind: 'frame', frame: { recv_ms: recv, source: '', text: rest } };
  }

  // cryptofeed: "<seconds.frac>: <json>"
  if (first.endsWith(':') && /^\d+\.\d+:$/.test(first)) {
    return { kind: 'frame', frame: { recv_ms: Math.round(parseFloat(first) * 1000), source: '', text: line.slice(sp + 1) } };
  }
  // cryptofeed REST: "<url> -> <seconds.frac>: <body>"; connection line: "<url> <-> <ts>"
  if (/^(https?|wss?):\/\//.test(first)) {
    const m = /^(\S+) -> (\d+\.\d+): (.*)$/s.exec(line);
    if (m)
      return { kind: 'frame', frame: { recv_ms: Math.round(parseFloat(m[2] as string) * 1000), source: urlToSource(m[1] as string), text: m[3] as string } };
    if (/^\S+ <-> \d+(\.\d+)?$/.test(line)) return { kind: 'skip', why: 'connection_record' };
  }
  return { kind: 'bad', reason: 'unrecognised_line_format' };
}
