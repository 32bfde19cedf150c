/** `peak-pressure replay <file…> [--symbols A,B] [--json] [--out events.jsonl] [--dead-letters file] [--db FILE]` */
import { createWriteStream, openSync, type WriteStream } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DeadLetterFile } from '../capture/dead-letter';
import { wallClock } from '../clock/clock';
import { checkReadable, type ReadProgress } from '../capture/reader';
import { describeFsError, PathError } from '../files/errors';
import { abandonOutput, commitOutput, type OutputTarget, prepareOutput } from '../files/output';
import { PARTITION_KEYS } from '../core/contracts/counters';
import { eventLine, runReplay, type ReplaySummary } from '../replay/replay';
import { ReplayStoreWriter } from '../replay/replay-store';
import { safeMessage } from '../text/safe';
import { UsageError } from './cli-errors';

export const REPLAY_USAGE = `usage: peak-pressure replay <capture file…> [options]

Runs recorded frames through the same normalizer and detection core as the live collector.
Reads our capture format and the hftbacktest / cryptofeed line formats, plain or gzip.
Several files are merged by receive time.

options:
  --symbols A,B,…       allow-list (default: the capture header's, else the 10 most traded symbols in the data)
  --out FILE            promoted events as JSONL (default: debug/replay_events.jsonl)
  --dead-letters FILE   unusable frames as JSONL (default: debug/replay_dead_letters.jsonl, created only if needed)
  --db FILE             also write the promoted events to this event store (a store of its own, not the
                        live one), so a replay and a live run compare with one query (README "Export")
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

/** The events file: opened at once (so a bad path fails before any work), errors kept for the end. */
function openEvents(t: OutputTarget): { out: WriteStream; done: () => Promise<void> } {
  let fd: number;
  try {
    fd = openSync(t.writePath, 'w');
  } catch (e) {
    throw new PathError(t.final, `${t.what} ${safeMessage(t.final)}: cannot write: ${describeFsError(e)}`, { cause: e });
  }
  const out = createWriteStream('', { fd });
  let failure: unknown = null;
  out.on('error', (e) => {
    failure ??= e;
  });
  const done = (): Promise<void> =>
    new Promise<void>((res, rej) => {
      const fail = (e: unknown): void => rej(new PathError(t.final, `${t.what} ${safeMessage(t.final)}: cannot write: ${describeFsError(e)}`, { cause: e }));
      if (failure !== null) return fail(failure);
      out.end((err?: Error | null) => (err || failure !== null ? fail(err ?? failure) : res()));
    });
  return { out, done };
}

function storedLine(s: { path: string; run_id: string; inserted: number; duplicates: number }): string {
  return `Events stored in ${s.path} (run ${s.run_id}): ${fmt(s.inserted)} new, ${fmt(s.duplicates)} already there`;
}

export async function replayCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      symbols: { type: 'string' },
      out: { type: 'string' },
      'dead-letters': { type: 'string' },
      db: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stderr.write(REPLAY_USAGE);
    return 0;
  }
  if (positionals.length === 0) throw new UsageError('give at least one capture file');
  const symbols = values.symbols
    ?.split(',')
    .map((s) => s.trim().toUpperCase())
    .filter((s) => s.length > 0);
  // Every input is checked before any output exists: a bad second file leaves nothing behind.
  for (const f of positionals) checkReadable(f);
  const store = values.db === undefined ? null : ReplayStoreWriter.open(resolve(values.db), positionals, symbols ?? null);
  if (store !== null && store.fault !== null) {
    process.stderr.write(`peak-pressure replay: ${safeMessage(store.fault)}\n`);
    return 1;
  }
  const events = prepareOutput(values.out ?? 'debug/replay_events.jsonl', '--out');
  let letters: OutputTarget;
  let opened: ReturnType<typeof openEvents>;
  try {
    letters = prepareOutput(values['dead-letters'] ?? 'debug/replay_dead_letters.jsonl', '--dead-letters');
    opened = openEvents(events);
  } catch (e) {
    abandonOutput(events);
    throw e;
  }
  const { out, done } = opened;
  const deadLetters = new DeadLetterFile(letters.writePath, { truncate: !letters.direct });
  const progress: ReadProgress = { bytesRead: 0, totalBytes: 0 };
  const tty = process.stderr.isTTY === true;
  let frames = 0;
  let promotions = 0;
  let lastDraw = 0;
  let drawn = false;
  // Progress on the terminal is about the person waiting: wall time.
  const started = wallClock.now();
  const draw = (final: boolean): void => {
    drawn = !final;
    const pct = progress.totalBytes > 0 ? Math.min(100, (100 * progress.bytesRead) / progress.totalBytes) : 0;
    process.stderr.write(
      `\rreplaying ${pct.toFixed(0).padStart(3)}%  ${fmt(frames)} frames  ${fmt(promotions)} promoted  ${((wallClock.now() - started) / 1000).toFixed(1)} s${final ? '\n' : ''}`,
    );
  };
  let summary: ReplaySummary;
  let replayedSymbols: readonly string[];
  try {
    const result = await runReplay({
      files: positionals,
      ...(symbols && symbols.length > 0 ? { symbols } : {}),
      deadLetters,
      progress,
      onPromotion: (e) => {
        promotions++;
        out.write(eventLine(e));
        store?.add(e);
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
    summary = result.summary;
    replayedSymbols = result.engine.symbols;
    await done();
    await deadLetters.flush();
    if (deadLetters.failed > 0) {
      throw new PathError(
        letters.final,
        `--dead-letters: could not write ${fmt(deadLetters.failed)} dead letter(s): ${deadLetters.lastError ?? 'unknown error'}`,
      );
    }
    await commitOutput(events);
    if (!letters.direct) await deadLetters.moveTo(letters.final);
    else await deadLetters.close();
  } catch (e) {
    if (drawn) process.stderr.write('\n');
    out.destroy();
    if (!letters.direct) await deadLetters.discard().catch(() => undefined);
    // Letters first: their directory may be inside the events' (debug/ for both by default).
    abandonOutput(letters);
    abandonOutput(events);
    throw e;
  }
  if (tty) draw(true);
  const stored = store?.finish(replayedSymbols) ?? null;
  if (values.json) {
    process.stdout.write(
      `${JSON.stringify({ ...summary, events_file: events.final, dead_letters: deadLetters.written, ...(stored ? { store: stored } : {}) })}\n`,
    );
  } else {
    process.stdout.write(
      `${formatSummary(summary, events.final)}\n${deadLetters.written > 0 ? `Dead letters written to ${letters.final}\n` : ''}${stored ? `${storedLine(stored)}\n` : ''}`,
    );
  }
  if (stored?.error) process.stderr.write(`peak-pressure replay: ${safeMessage(stored.error)}\n`);
  return summary.partition_holds && !stored?.error ? 0 : 1;
}
