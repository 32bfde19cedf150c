#!/usr/bin/env node
/**
 * `peak-pressure <command>`: the headless entry point (no Qt is ever loaded from here).
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { staleContracts, writeContracts } from './contract';
import { eventsCommand } from './events-command';
import { liveCommand } from './live-command';
import { ratesCommand } from './rates-command';
import { reportCommand } from './report-command';
import { replayCommand } from './replay-command';
import { simulateCommand } from '../simulator/cli';

const USAGE = `usage: peak-pressure <command> [options]

commands:
  replay <file…>      run recorded captures through the detection core (see: replay --help)
  events              print stored promoted events as JSONL or CSV (see: events --help)
  rates <file…>       share of warm windows passing each condition, per capture (see: rates --help)
  report [--day D]    the daily summary of a UTC day from the event store (see: report --help)
  live --headless     observe Binance without a window (see: live --help)
  simulate            run the loopback Binance simulator on 127.0.0.1 (see: simulate --help)
  contract [--check]  write (or check) the JSON Schema contracts in docs/contracts/
`;

type Command = (argv: string[]) => Promise<number>;

const commands: Record<string, Command> = {
  replay: replayCommand,
  events: eventsCommand,
  rates: ratesCommand,
  report: (argv) => reportCommand(argv),
  live: liveCommand,
  simulate: simulateCommand,
  contract: async (argv) => {
    const { values } = parseArgs({ args: argv, options: { check: { type: 'boolean', default: false }, dir: { type: 'string' } } });
    const dir = resolve(values.dir ?? 'docs/contracts');
    if (values.check) {
      const stale = staleContracts(dir);
      if (stale.length > 0) {
        process.stderr.write(`stale contracts in ${dir}: ${stale.join(', ')}\nrun: npm run contract\n`);
        return 1;
      }
      process.stdout.write(`contracts in ${dir} are current\n`);
      return 0;
    }
    const files = writeContracts(dir);
    process.stdout.write(`wrote ${files.length} JSON Schema files to ${dir}\n`);
    return 0;
  },
};

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const cmd = name === undefined ? undefined : commands[name];
  if (cmd === undefined) {
    process.stderr.write(USAGE);
    return name === undefined || name === '--help' || name === '-h' ? 0 : 2;
  }
  return cmd(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`peak-pressure: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
