/**
 * Collector configuration: defaults < config file < environment < command-line flags.
 * Validated by zod, so a typo fails at start with the field, the value and what is expected.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { ModeSchema } from '../core/contracts/vocabulary';

const url = (protocols: string[]) =>
  z.string().refine(
    (s) => {
      try {
        return protocols.includes(new URL(s).protocol);
      } catch {
        return false;
      }
    },
    `must be a URL starting with ${protocols.join(' or ')}`,
  );

export const CollectorConfigSchema = z
  .object({
    /** REST base, e.g. https://fapi.binance.com (no trailing path). */
    restUrl: url(['https:', 'http:']).default('https://fapi.binance.com'),
    /** WS root, e.g. wss://fstream.binance.com; the `/market` route is appended. */
    wsUrl: url(['wss:', 'ws:']).default('wss://fstream.binance.com'),
    mode: ModeSchema.default('LIVE_PEAK_PRESSURE'),
    /** Fixed symbol list instead of the 24 h ranking (still checked against exchangeInfo TRADING). */
    symbols: z
      .array(z.string().regex(/^[A-Z0-9]{2,30}$/))
      .max(10)
      .optional(),
    /** Where debug/latest_snapshot.json and logs go. */
    debugDir: z.string().default('debug'),
    /** Capture recorder; on by default so every live run can be replayed exactly. */
    capture: z
      .object({
        enabled: z.boolean().default(true),
        dir: z.string().default('captures'),
        /** Rotate to a new file after this many compressed bytes. */
        maxFileBytes: z
          .number()
          .int()
          .positive()
          .default(64 * 1024 * 1024),
        /** Delete the oldest captures beyond this total. */
        maxTotalBytes: z
          .number()
          .int()
          .positive()
          .default(2 * 1024 * 1024 * 1024),
        /** Flush to disk this often: a crash loses at most this much of the recording. */
        flushIntervalMs: z.number().int().positive().default(1000),
      })
      .prefault({}),
    /** Health evaluation and commits. */
    commitIntervalMs: z.number().int().positive().default(500),
    snapshotFileIntervalMs: z.number().int().positive().default(5000),
    oiPollIntervalMs: z.number().int().positive().default(5000),
    oiTimeoutMs: z.number().int().positive().default(5000),
    /** Reconnect when no frame at all arrived for this long. */
    staleAfterMs: z.number().int().positive().default(30_000),
    /** How often the stall and per-stream silence checks run. */
    livenessCheckMs: z.number().int().positive().default(1000),
    /** Rotate the WS connection before Binance's 24 h cut. */
    rotateAfterMs: z
      .number()
      .int()
      .positive()
      .default((23 * 60 + 50) * 60 * 1000),
    /** Subscribe to markPrice@1s for display. */
    markPrice: z.boolean().default(true),
    /**
     * Diagnostics for memory benchmarks: when > 0 and node runs with --expose-gc, a full GC every
     * this many ms measures the worker's live heap exactly. Off (0) in the product.
     */
    heapProbeIntervalMs: z.number().int().nonnegative().default(0),
    logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  })
  .strict();

export type CollectorConfig = z.infer<typeof CollectorConfigSchema>;
export type CollectorConfigInput = z.input<typeof CollectorConfigSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function formatIssues(err: z.ZodError, origin: string): string {
  return err.issues.map((i) => `  ${origin}: ${i.path.length > 0 ? i.path.join('.') : '(root)'}: ${i.message}`).join('\n');
}

/** Environment variables we read; everything else comes from the file or flags. */
export function configFromEnv(env: NodeJS.ProcessEnv): CollectorConfigInput {
  const out: Record<string, unknown> = {};
  if (env.PEAK_PRESSURE_REST_URL) out.restUrl = env.PEAK_PRESSURE_REST_URL;
  if (env.PEAK_PRESSURE_WS_URL) out.wsUrl = env.PEAK_PRESSURE_WS_URL;
  if (env.PEAK_PRESSURE_DEBUG_DIR) out.debugDir = env.PEAK_PRESSURE_DEBUG_DIR;
  if (env.PEAK_PRESSURE_LOG_LEVEL) out.logLevel = env.PEAK_PRESSURE_LOG_LEVEL;
  if (env.PEAK_PRESSURE_CAPTURE === '0') out.capture = { enabled: false };
  return out as CollectorConfigInput;
}

/**
 * Merge the layers and validate. `file` is a JSON config path (missing file = error: the user
 * asked for it). Throws ConfigError with every problem listed.
 */
export function loadConfig(layers: { file?: string; env?: NodeJS.ProcessEnv; flags?: CollectorConfigInput }): CollectorConfig {
  let fromFile: Record<string, unknown> = {};
  if (layers.file) {
    const path = resolve(layers.file);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new ConfigError(`cannot read config file ${path}: ${(e as Error).message}`);
    }
    try {
      fromFile = JSON.parse(text) as Record<string, unknown>;
    } catch (e) {
      throw new ConfigError(`config file ${path} is not valid JSON: ${(e as Error).message}`);
    }
    const check = CollectorConfigSchema.safeParse(fromFile);
    if (!check.success) throw new ConfigError(`invalid config:\n${formatIssues(check.error, path)}\nfix the file, or remove the key to use the default`);
  }
  const fromEnv = configFromEnv(layers.env ?? {});
  const merged = {
    ...fromFile,
    ...fromEnv,
    ...(layers.flags ?? {}),
    capture: {
      ...((fromFile.capture as object | undefined) ?? {}),
      ...((fromEnv.capture as object | undefined) ?? {}),
      ...((layers.flags?.capture as object | undefined) ?? {}),
    },
  };
  const r = CollectorConfigSchema.safeParse(merged);
  if (!r.success) throw new ConfigError(`invalid configuration:\n${formatIssues(r.error, 'config')}`);
  return r.data;
}
