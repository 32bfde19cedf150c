#!/usr/bin/env node
/**
 * `peak-pressure <command>`: the headless entry point (no Qt is ever loaded from here).
 */
import { reportCommandError } from './cli-errors';
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
  consume redis://…   read the Redis streams a --sink redis:// writes, in a consumer group (see: consume --help)
  db migrate URL      create or update the PostgreSQL sink's tables (see: db --help)
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

/**
 * Each command's modules are loaded only when it is the one named: this bundle holds every
 * command, and evaluating them all put SQLite, the sinks' Redis and PostgreSQL clients, the
 * simulator, replay and the zod contracts into the main thread of every process — about 20 MB of
 * V8 heap in `live --headless`, whose main thread only hosts the collector worker (measured with
 * v8.getHeapSpaceStatistics in a soak run; README "Performance").
 */
const commands: Record<string, () => Promise<Command>> = {
  replay: async () => {
    const m = await import('./replay-command');
    return { run: m.replayCommand, usage: m.REPLAY_USAGE };
  },
  events: async () => {
    const m = await import('./events-command');
    return { run: m.eventsCommand, usage: m.EVENTS_USAGE };
  },
  rates: async () => {
    const m = await import('./rates-command');
    return { run: m.ratesCommand, usage: m.RATES_USAGE };
  },
  report: async () => {
    const m = await import('./report-command');
    return { run: (argv) => m.reportCommand(argv), usage: m.REPORT_USAGE };
  },
  live: async () => {
    // The collector's memory over its speed, as in the window (src/app/main.ts); `live` starts the worker.
    const { favourMemory } = await import('./favour-memory');
    favourMemory();
    const m = await import('./live-command');
    return { run: m.liveCommand, usage: m.LIVE_USAGE };
  },
  doctor: async () => {
    const m = await import('./doctor-command');
    return { run: (argv) => m.doctorCommand(argv), usage: m.DOCTOR_USAGE };
  },
  simulate: async () => {
    const m = await import('../simulator/cli');
    return { run: m.simulateCommand, usage: m.SIMULATE_USAGE };
  },
  consume: async () => {
    const m = await import('./consume-command');
    return { run: m.consumeCommand, usage: m.CONSUME_USAGE };
  },
  db: async () => {
    const m = await import('./db-command');
    return { run: m.dbCommand, usage: m.DB_USAGE };
  },
  contract: async () => {
    const [{ parseArgs }, { resolve }, { staleContracts, writeContracts }] = await Promise.all([
      import('node:util'),
      import('node:path'),
      import('./contract'),
    ]);
    return {
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
    };
  },
};

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const load = name === undefined || !Object.hasOwn(commands, name) ? undefined : commands[name];
  if (load === undefined) {
    if (name !== undefined && name !== '--help' && name !== '-h') process.stderr.write(`peak-pressure: unknown command '${safeMessage(name)}'\n\n`);
    process.stderr.write(USAGE);
    return name === undefined || name === '--help' || name === '-h' ? 0 : 2;
  }
  const cmd = await load();
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
