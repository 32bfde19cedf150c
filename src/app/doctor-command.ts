/**
 * `peak-pressure doctor`: is this machine ready to observe? One PASS/FAIL line per check with the
 * fix (src/doctor/checks.ts), exit code 0 when everything passed and 1 otherwise. It reads the
 * same configuration as `live` (file < environment < flags), so it checks what a run would use.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { formatReport, runDoctor } from '../doctor/checks';
import { type QtProbeCommand, realDoctorIo } from '../doctor/io';
import { DEFAULT_STORE_PATH } from '../store/files';
import { redactUrl } from '../text/safe';
import { UsageError } from './cli-errors';
import { configFromValues } from './live-options';
import { wallClock } from '../clock/clock';

export const DOCTOR_USAGE = `usage: peak-pressure doctor [options]

Checks, one line each with the fix when it fails: both WebSocket routes (/market and /public)
answer and deliver a data frame within 5 s; REST answers with weight headroom; the local clock is
within 1 s of the exchange's serverTime; free disk for the store and the captures; the store's WAL
size; write permission of debug/, captures/ and the store's folder; with --window, that Qt starts.
Exit code 0 when every check passed, 1 when any failed.

options:
  --config FILE       JSON config file, as for live (see README "Configuration")
  --rest-url URL      REST base (default https://fapi.binance.com; env PEAK_PRESSURE_REST_URL)
  --ws-url URL        WebSocket root (default wss://fstream.binance.com; env PEAK_PRESSURE_WS_URL)
  --db FILE           the event store (default ${DEFAULT_STORE_PATH})
  --debug-dir DIR     snapshot, logs and audit (default debug)
  --capture-dir DIR   capture recordings (default captures)
  --no-capture        captures are off: skip the captures' disk budget
  --window            also check that the Qt platform plugin loads (in a child process)
`;

/** How this install starts its window: the launcher script when it is there (it picks qode), else dist/main.js. */
export function qtProbeCommand(distDir: string, env: NodeJS.ProcessEnv = process.env): QtProbeCommand {
  const launcher = join(distDir, '..', 'scripts', 'start.cjs');
  const entry = existsSync(launcher) ? launcher : join(distDir, 'main.js');
  return { command: process.execPath, args: [entry, '--qt-probe'], env };
}

export async function doctorCommand(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      'rest-url': { type: 'string' },
      'ws-url': { type: 'string' },
      db: { type: 'string' },
      'debug-dir': { type: 'string' },
      'capture-dir': { type: 'string' },
      'no-capture': { type: 'boolean', default: false },
      window: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(DOCTOR_USAGE);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  if (values.db !== undefined && values.db.trim() === '') throw new UsageError('--db needs a file path');
  const config = configFromValues(values, env);
  // --db is in the config (store.path), so a config file's store is the one checked.
  const storePath = resolve(config.store.path);
  const io = realDoctorIo({ tcpKeepAlive: config.tcpKeepAlive, qt: qtProbeCommand(__dirname, env) });
  process.stdout.write(`peak-pressure doctor: REST ${redactUrl(config.restUrl)}  WS ${redactUrl(config.wsUrl)}  store ${storePath}\n`);
  const results = await runDoctor(
    {
      restUrl: config.restUrl,
      wsUrl: config.wsUrl,
      storePath,
      debugDir: resolve(config.debugDir),
      capturesDir: resolve(config.capture.dir),
      captureBudgetBytes: config.capture.enabled ? config.capture.maxTotalBytes : null,
      window: values.window,
    },
    io,
    wallClock.now,
  );
  process.stdout.write(formatReport(results));
  return results.every((r) => r.ok) ? 0 : 1;
}
