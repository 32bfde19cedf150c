/**
 * `peak-pressure rates <capture…> [--json]`: replays each capture on its own and prints, per
 * symbol, the share of warm windows that pass each condition alone, conditions 1–3 together and
 * all four — the measured basis of the README's event rates.
 */
import { parseArgs } from 'node:util';
import { ConditionRates, type ConditionTally } from '../replay/condition-rates';
import { runReplay } from '../replay/replay';
import { UsageError, withUsage } from './events-command';

export const RATES_USAGE = `usage: peak-pressure rates <capture file…> [--json]

Replays each file on its own (formats as for replay) and prints, per symbol, how many warm windows
there were and the share of them passing condition 1 (flow ≥ P90), 2 (a trade ≥ P95), 3 (body ≤ 0.30
or ≥ 0.70 of the range), 4 (a liquidation in the last 60 s or an OI change) — each on its own,
whatever the others did — then 1+2, 1–3 and all four together, and promotions per hour of exchange time.
`;

export interface FileRates {
  file: string;
  error: string | null;
  symbols: Record<string, ConditionTally>;
  all: ConditionTally;
}

export async function measureRates(file: string): Promise<FileRates> {
  const rates = new ConditionRates();
  try {
    await runReplay({ files: [file], onWindow: rates.add });
  } catch (e) {
    return { file, error: (e as Error).message, symbols: {}, all: rates.total() };
  }
  return { file, error: null, symbols: Object.fromEntries(rates.bySymbol), all: rates.total() };
}

const pct = (n: number, of: number): string => (of === 0 ? '–' : `${((100 * n) / of).toFixed(1)} %`);

function perHour(t: ConditionTally): string {
  if (t.first_ms === null || t.last_ms === null || t.last_ms <= t.first_ms) return '–';
  return ((t.promoted * 3_600_000) / (t.last_ms - t.first_ms)).toFixed(1);
}

export const RATE_COLUMNS = [
  'file',
  'symbol',
  'exchange min',
  'warm windows',
  '1 flow',
  '2 large trade',
  '3 body',
  '4 stress',
  '1+2',
  '1–3',
  'all four',
  'events/h',
] as const;

export function rateRow(file: string, symbol: string, t: ConditionTally): string[] {
  const mins = t.first_ms !== null && t.last_ms !== null ? ((t.last_ms - t.first_ms) / 60_000).toFixed(1) : '–';
  const w = t.warm;
  return [
    file,
    symbol,
    mins,
    t.warm.toLocaleString('en-US'),
    pct(t.flow, w),
    pct(t.large_trade, w),
    pct(t.compression, w),
    pct(t.stress, w),
    pct(t.first_two, w),
    pct(t.first_three, w),
    pct(t.all_four, w),
    perHour(t),
  ];
}

export function formatRates(results: readonly FileRates[], name: (file: string) => string = (f) => f): string {
  const rows: string[][] = [];
  const notes: string[] = [];
  for (const r of results) {
    if (r.error !== null) {
      notes.push(`${name(r.file)}: ${r.error}`);
      continue;
    }
    for (const [sym, t] of Object.entries(r.symbols)) rows.push(rateRow(name(r.file), sym, t));
  }
  const widths = RATE_COLUMNS.map((c, i) => Math.max(c.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i] as number)).join(' | ')} |`;
  return [line(RATE_COLUMNS), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line), ...notes.map((n) => `\n${n}`)].join('\n');
}

export function ratesCommand(argv: string[]): Promise<number> {
  return withUsage(RATES_USAGE, 'rates', async () => {
    let parsed;
    try {
      parsed = parseArgs({
        args: argv,
        allowPositionals: true,
        options: { json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
      });
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const { values, positionals } = parsed;
    if (values.help) {
      process.stdout.write(RATES_USAGE);
      return 0;
    }
    if (positionals.length === 0) throw new UsageError('give at least one capture file');
    const results: FileRates[] = [];
    for (const f of positionals) results.push(await measureRates(f));
    if (values.json) process.stdout.write(`${JSON.stringify(results)}\n`);
    else process.stdout.write(`${formatRates(results, (f) => f.split('/').pop() ?? f)}\n`);
    return 0;
  });
}
