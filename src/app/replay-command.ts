/** `peak-pressure replay <file…> [--symbols A,B] [--json] [--out events.jsonl] [--dead-letters file]` */
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DeadLetterFile } from '../capture/dead-letter';
import { wallClock } from '../clock/clock';
import type { ReadProgress } from '../capture/reader';
import { eventLine, PARTITION_KEYS, runReplay, type ReplaySummary } from '../replay/replay';

export const REPLAY_USAGE = `usage: peak-pressure replay <capture file…> [options]

Runs recorded frames through the same normalizer and detection core as the live collector.
Reads our capture format and the hftbacktest / cryptofeed line formats, plain or gzip.
Several files are merged by receive time.

options:
  --symbols A,B,…       allow-list (default: the capture header's, else the 10 most traded symbols in the data)
  --out FILE            promoted events as JSONL (default: debug/replay_events.jsonl)
  --dead-letters FILE   unusable frames as JSONL (default: debug/replay_dead_letters.jsonl, created only if needed)
  --json                print the summary as one JSON object instead of a table
`;

const fmt = (n: number): string => n.toLocaleString('en-US');

export function formatSummary(s: ReplaySummary, outPath: string): string {
  const lines: string[] = [];
  lines.push(`Replayed ${fmt(s.frames)} frames from ${s.files.length} file(s); symbols (${s.symbols_from}): ${s.symbols.join(', ')}`);
  if (s.first_watermark_ms !== null && s.last_watermark_ms !== null) {
    lines.push(
      `Exchange time ${new Date(s.first_watermark_ms).toISOString()} → ${new Date(s.last_watermark_ms).toISOString()} (${fmt(Math.round((s.last_watermark_ms - s.first_watermark_ms) / 1000))} s)`,
    );
  }
  lines.push(`Windows processed: ${fmt(s.windows_processed)}   Promoted events: ${fmt(s.promotions)}   Partition holds: ${s.partition_holds ? 'yes' : 'NO'}`);
  const head = ['symbol', 'windows', ...PARTITION_KEYS.map((k) => k.replace(/_/g, ' ')), 'late', 'dups'];
  const rows = Object.entries(s.per_symbol).map(([sym, p]) => [
    sym,
    fmt(p.windows_processed),
    ...PARTITION_KEYS.map((k) => fmt(p.partition[k])),
    fmt(p.window_not_closed),
    fmt(p.duplicate_trades),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  lines.push('', line(head), ...rows.map(line), '');
  const c = s.counters;
  lines.push(
    `Frames: ${fmt(c.frames_received)} received, ${fmt(c.ignored_frames)} ignored (${
      Object.entries(s.ignored_by_kind)
        .map(([k, v]) => `${k} ${fmt(v)}`)
        .join(', ') || 'none'
    }), ${fmt(c.malformed_events)} malformed, ${fmt(c.symbol_not_allowed)} symbol not allowed, ${fmt(c.gap_resets)} gap resets`,
  );
  if (c.malformed_events > 0) {
    lines.push(
      `Malformed by reason: ${Object.entries(s.malformed_by_reason)
        .map(([k, v]) => `${k} ${fmt(v)}`)
        .join(', ')}`,
    );
  }
  lines.push(`Promoted events written to ${outPath}`);
  return lines.join('\n');
}

export async function replayCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      symbols: { type: 'string' },
      out: { type: 'string' },
      'dead-letters': { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help || positionals.length === 0) {
    process.stderr.write(REPLAY_USAGE);
    return values.help ? 0 : 2;
  }
  const symbols = values.symbols
    ?.split(',')
    .map((s) => s.trim().toUpperCase())
    .filter((s) => s.length > 0);
  const outPath = resolve(values.out ?? 'debug/replay_events.jsonl');
  mkdirSync(dirname(outPath), { recursive: true });
  const out = createWriteStream(outPath);
  const deadLetters = new DeadLetterFile(resolve(values['dead-letters'] ?? 'debug/replay_dead_letters.jsonl'));
  const progress: ReadProgress = { bytesRead: 0, totalBytes: 0 };
  const tty = process.stderr.isTTY === true;
  let frames = 0;
  let promotions = 0;
  let lastDraw = 0;
  // Progress on the terminal is about the person waiting: wall time.
  const started = wallClock.now();
  const draw = (final: boolean): void => {
    const pct = progress.totalBytes > 0 ? Math.min(100, (100 * progress.bytesRead) / progress.totalBytes) : 0;
    process.stderr.write(
      `\rreplaying ${pct.toFixed(0).padStart(3)}%  ${fmt(frames)} frames  ${fmt(promotions)} promoted  ${((wallClock.now() - started) / 1000).toFixed(1)} s${final ? '\n' : ''}`,
    );
  };
  const result = await runReplay({
    files: positionals,
    ...(symbols && symbols.length > 0 ? { symbols } : {}),
    deadLetters,
    progress,
    onPromotion: (e) => {
      promotions++;
      out.write(eventLine(e));
    },
    onFrame: tty
      ? () => {
          frames++;
          if ((frames & 1023) === 0) {
            const now = wallClock.now();
            if (now - lastDraw > 250) {
              lastDraw = now;
              draw(false);
            }
          }
        }
      : undefined,
  });
  if (tty) draw(true);
  await new Promise<void>((res, rej) => out.end((err?: Error | null) => (err ? rej(err) : res())));
  const summary = result.summary;
  if (values.json) process.stdout.write(`${JSON.stringify({ ...summary, events_file: outPath, dead_letters: deadLetters.written })}\n`);
  else process.stdout.write(`${formatSummary(summary, outPath)}\n${deadLetters.written > 0 ? `Dead letters written to ${deadLetters.path}\n` : ''}`);
  return summary.partition_holds ? 0 : 1;
}
