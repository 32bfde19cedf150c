/** Command-line options shared by `live --headless`, the Qt app and the demo: flags → config. */
import { parseArgs } from 'node:util';
import { type CollectorConfig, type CollectorConfigInput, ConfigError, loadConfig } from '../collector/config';
import { type ClockSpec, ClockSpecSchema } from '../clock/accelerated';
import { type Clock, wallClock } from '../clock/clock';
import { ensureDirSync, removeCreatedDirs } from '../files/dirs';
import { PathError } from '../files/errors';
import { ListenAddressError, parseListenAddress } from '../http/listen';
import { parseSinkUrls, type SinkSpec, SinkSpecError } from '../sinks/spec';
import { UsageError } from './cli-errors';
import type { ScaleOutSpec } from './scale-out-spec';

export const LIVE_OPTIONS_HELP = `options:
  --config FILE         JSON config file (see README "Configuration")
  --rest-url URL        REST base (default https://fapi.binance.com; env PEAK_PRESSURE_REST_URL)
  --ws-url URL          WebSocket root (default wss://fstream.binance.com; env PEAK_PRESSURE_WS_URL)
  --symbols A,B,…       fixed symbols instead of the 24h top 10
  --debug-dir DIR       snapshot, logs, audit and dead letters (default debug)
  --capture-dir DIR     capture recordings (default captures)
  --no-capture          do not record a capture
  --no-warm-start       start cold: no REST backfill, the baselines warm from 60 live windows
  --db FILE             the event store (default data/peak-pressure.db; the demo: data/demo.db)
  --log-level LEVEL     pino level for the log file (default info)
  --clock JSON          (advanced) run on an accelerated simulator's clock: the JSON of the
                        \`clock {…}\` line \`simulate\` prints ({"originMs","wallOriginMs","speed"});
                        timers run on it too (every configured duration is simulator time)
  --sink URL            also deliver the stored events and audit records to redis://HOST:PORT[/DB]
                        or postgres://USER@HOST:PORT/DATABASE (repeatable; README "Scale-out");
                        postgres://…?windows=1 also writes every closed window to its windows table
  --http HOST:PORT      serve the read-only HTTP API on a loopback address, e.g. 127.0.0.1:8080
  --on-worker-crash restart|exit
                        a crashed collector worker: start a new one after a backoff (default in the
                        window) or end FAILED with exit code 1 (default headless); env
                        PEAK_PRESSURE_ON_WORKER_CRASH; limits in the config's "worker" section
`;

export const liveArgOptions = {
  config: { type: 'string' },
  'rest-url': { type: 'string' },
  'ws-url': { type: 'string' },
  symbols: { type: 'string' },
  'debug-dir': { type: 'string' },
  'capture-dir': { type: 'string' },
  'no-capture': { type: 'boolean', default: false },
  'no-warm-start': { type: 'boolean', default: false },
  db: { type: 'string' },
  'log-level': { type: 'string' },
  clock: { type: 'string' },
  sink: { type: 'string', multiple: true },
  http: { type: 'string' },
  'on-worker-crash': { type: 'string' },
  headless: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export interface LiveValues {
  config?: string;
  'rest-url'?: string;
  'ws-url'?: string;
  symbols?: string;
  'debug-dir'?: string;
  'capture-dir'?: string;
  'no-capture'?: boolean;
  'no-warm-start'?: boolean;
  db?: string;
  'log-level'?: string;
  'on-worker-crash'?: string;
}

/** Which flag sets which config path, so a config error names the flag the user typed. */
export const FLAG_FOR_PATH: Readonly<Record<string, string>> = {
  restUrl: '--rest-url',
  wsUrl: '--ws-url',
  debugDir: '--debug-dir',
  logLevel: '--log-level',
  symbols: '--symbols',
  'capture.dir': '--capture-dir',
  'capture.enabled': '--no-capture',
  warmStart: '--no-warm-start',
  'store.path': '--db',
  'worker.onCrash': '--on-worker-crash',
};

/** Parsed flag values → validated config (flags win over env, env over the file). */
export function configFromValues(values: LiveValues, env: NodeJS.ProcessEnv, extra: CollectorConfigInput = {}): CollectorConfig {
  const flags: Record<string, unknown> = { ...extra };
  if (values['rest-url']) flags.restUrl = values['rest-url'];
  if (values['ws-url']) flags.wsUrl = values['ws-url'];
  if (values['debug-dir']) flags.debugDir = values['debug-dir'];
  if (values['log-level']) flags.logLevel = values['log-level'];
  if (values['no-warm-start']) flags.warmStart = false;
  if (values.symbols)
    flags.symbols = values.symbols
      .split(',')
      .map((s) => s.trim().toUpperCase())
      .filter(Boolean);
  const capture: Record<string, unknown> = { ...((extra.capture as object | undefined) ?? {}) };
  if (values['capture-dir']) capture.dir = values['capture-dir'];
  if (values['no-capture']) capture.enabled = false;
  if (Object.keys(capture).length > 0) flags.capture = capture;
  if (values['on-worker-crash']) flags.worker = { onCrash: values['on-worker-crash'] };
  if (values.db) flags.store = { ...((extra.store as object | undefined) ?? {}), path: values.db };
  return loadConfig({ ...(values.config ? { file: values.config } : {}), env, flags: flags as CollectorConfigInput, flagNames: FLAG_FOR_PATH });
}

/** `--clock '{"originMs":…,"wallOriginMs":…,"speed":…}'` → the shared clock (ConfigError when malformed). */
export function parseClockArg(text: string): ClockSpec {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`--clock is not valid JSON: ${(e as Error).message}`);
  }
  const r = ClockSpecSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new ConfigError(
      `--clock: ${i ? `${i.path.join('.') || '(root)'}: ${i.message}` : 'invalid'} (expected {"originMs":number,"wallOriginMs":number,"speed":number>0})`,
    );
  }
  return r.data;
}

/** `--sink URL` (repeatable) → the sink specs; a bad URL is a usage error naming it (credentials hidden). */
export function sinkArgs(texts: readonly string[], flag = '--sink '): SinkSpec[] {
  try {
    return parseSinkUrls(texts);
  } catch (e) {
    throw e instanceof SinkSpecError ? new UsageError(`${flag}${e.message}`) : e;
  }
}

/** `--sink` and `--http` → what the collector worker starts beside the collector (null: neither was given). */
export function scaleOutFromValues(values: { sink?: string[]; http?: string }): ScaleOutSpec | null {
  const sinks = sinkArgs(values.sink ?? []);
  let http = null;
  if (values.http !== undefined) {
    try {
      http = parseListenAddress(values.http);
    } catch (e) {
      throw e instanceof ListenAddressError ? new UsageError(e.message) : e;
    }
  }
  if (sinks.length === 0 && http === null) return null;
  return { sinks, http };
}

export function parseLiveArgs(
  argv: string[],
  env: NodeJS.ProcessEnv,
  extra: CollectorConfigInput = {},
): { config: CollectorConfig; headless: boolean; help: boolean; clock?: ClockSpec; stopFile?: string; scaleOut: ScaleOutSpec | null } {
  const { values } = parseArgs({ args: argv, options: { ...liveArgOptions, 'stop-file': { type: 'string' } }, allowPositionals: false, strict: true });
  return {
    config: configFromValues(values, env, extra),
    headless: values.headless,
    help: values.help,
    ...(values.clock ? { clock: parseClockArg(values.clock) } : {}),
    ...(values['stop-file'] ? { stopFile: values['stop-file'] } : {}),
    scaleOut: scaleOutFromValues(values),
  };
}

/**
 * The directories the collector worker will write, created before it starts, so a bad one is a
 * one-line error naming the flag instead of a worker crash. A failure removes what it created.
 */
export function prepareRunDirs(config: CollectorConfig): void {
  const dirs = [{ dir: config.debugDir, flag: '--debug-dir' }, ...(config.capture.enabled ? [{ dir: config.capture.dir, flag: '--capture-dir' }] : [])];
  const created: string[] = [];
  for (const { dir, flag } of dirs) {
    try {
      created.push(...ensureDirSync(dir));
    } catch (e) {
      removeCreatedDirs(created);
      throw new PathError(dir, `${flag}: ${(e as Error).message}`, { cause: e });
    }
  }
}

/** A run id: the start time in base 36 and four random base-36 digits. */
export function newRunId(clock: Clock = wallClock): string {
  return `${clock.now().toString(36)}${Math.floor(clock.random() * 36 ** 4)
    .toString(36)
    .padStart(4, '0')}`;
}
