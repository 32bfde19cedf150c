#!/usr/bin/env node
/**
 * `peak-pressure <command>`: the headless entry point (no Qt is ever loaded from here).
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { staleContracts, writeContracts } from './contract';
import { reportCommandError } from './cli-errors';
import { DOCTOR_USAGE, doctorCommand } from './doctor-command';
import { EVENTS_USAGE, eventsCommand } from './events-command';
import { LIVE_USAGE, liveCommand } from './live-command';
import { RATES_USAGE, ratesCommand } from './rates-command';
import { REPORT_USAGE, reportCommand } from './report-command';
import { REPLAY_USAGE, replayCommand } from './replay-command';
import { SIMULATE_USAGE, simulateCommand } from '../simulator/cli';
import { safeMessage } from '../text/safe';

const USAGE = `usage: peak-pressure <command> [options]

commands:
  replay <file…>      run recorded captures through the detection core (see: replay --help)
  events              print stored promoted events as JSONL or CSV (see: events --help)
  rates <file…>       share of warm windows passing each condition, per capture (see: rates --help)
  report [--day D]    the daily summary of a UTC day from the event store (see: report --help)
  live --headless     observe Binance without a window (see: live --help)
  doctor              check network routes, REST, clock, disks and folders; exit 1 if any fails (see: doctor --help)
  simulate            run the loopback Binance simulator on 127.0.0.1 (see: simulate --help)
  contract [--check]  write (or check) the JSON Schema contracts in docs/contracts/

Bad input ends in one line on stderr naming the file and the cause: exit code 2 for a wrong
command line (followed by the usage), 1 for anything else.
`;

const CONTRACT_USAGE = `usage: peak-pressure contract [--check] [--dir DIR]

  --check     compare instead of writing; exit 1 when a file is stale
  --dir DIR   where the JSON Schema files are (default docs/contracts)
`;

interface Command {
  run: (argv: string[]) => Promise<number>;
  /** Printed after a usage error (unknown flag, missing argument). */
  usage: string;
}

const commands: Record<string, Command> = {
  replay: { run: replayCommand, usage: REPLAY_USAGE },
  events: { run: eventsCommand, usage: EVENTS_USAGE },
  rates: { run: ratesCommand, usage: RATES_USAGE },
  report: { run: (argv) => reportCommand(argv), usage: REPORT_USAGE },
  live: { run: liveCommand, usage: LIVE_USAGE },
  doctor: { run: (argv) => doctorCommand(argv), usage: DOCTOR_USAGE },
  simulate: { run: simulateCommand, usage: SIMULATE_USAGE },
  contract: {
    usage: CONTRACT_USAGE,
    run: async (argv) => {
      const { values } = parseArgs({
        args: argv,
        strict: true,
        options: { check: { type: 'boolean', default: false }, dir: { type: 'string' }, help: { type: 'boolean', short: 'h', default: false } },
      });
      if (values.help) {
        process.stdout.write(CONTRACT_USAGE);
        return 0;
      }
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
  },
};

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const cmd = name === undefined ? undefined : commands[name];
  if (cmd === undefined) {
    if (name !== undefined && name !== '--help' && name !== '-h') process.stderr.write(`peak-pressure: unknown command '${safeMessage(name)}'\n\n`);
    process.stderr.write(USAGE);
    return name === undefined || name === '--help' || name === '-h' ? 0 : 2;
  }
  try {
    return await cmd.run(rest);
  } catch (err) {
    return reportCommandError(`peak-pressure ${name}`, err, cmd.usage);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.exitCode = reportCommandError('peak-pressure', err, undefined);
  },
);
