/**
 * Collector configuration: defaults < config file < environment < command-line flags.
 * Validated by zod, so a typo fails at start with the field, the value and what is expected.
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import { AlertSettingsSchema, PromotionAlertModeSchema } from '../alerts/settings';
import { ModeSchema } from '../core/contracts/vocabulary';
import { readTextBounded, TooLargeError } from '../files/bounded-read';
import { DEFAULT_STORE_PATH } from '../store/files';
import { describeFsError } from '../files/errors';
import { safeMessage } from '../text/safe';

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

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** A config file is a few hundred bytes; past this it is not one (`--config /dev/zero`). */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;

/** Node runs a timer set above this (2³¹−1 ms, about 24.8 days) after 1 ms instead: no timer may come near it. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** `1000` → `1 s`, `86400000` → `24 h`, `67108864` → `64 MiB`: bounds as a person reads them. */
export function humanBound(n: number, unit: Bound['unit']): string {
  if (unit === 'count') return String(n);
  if (unit === 'bytes') {
    if (n >= GiB && n % GiB === 0) return `${n / GiB} GiB`;
    if (n >= MiB && n % MiB === 0) return `${n / MiB} MiB`;
    return `${n} bytes`;
  }
  if (n >= HOUR && n % HOUR === 0) return `${n / HOUR} h`;
  if (n >= MINUTE && n % MINUTE === 0) return `${n / MINUTE} min`;
  if (n >= SECOND && n % SECOND === 0) return `${n / SECOND} s`;
  return `${n} ms`;
}

export interface Bound {
  min: number;
  max: number;
  unit: 'ms' | 'bytes' | 'count';
  /** A value outside [min, max] that is accepted and means "off". */
  off?: number;
  /** Why these limits (shown in the README table). */
  why: string;
}

/**
 * Every duration and size the config accepts, with why. One table drives the schema, the README
 * table and the bounds test, so a new number cannot be added without limits.
 */
export const CONFIG_BOUNDS = {
  'capture.maxFileBytes': {
    min: 1 * MiB,
    max: 1 * GiB,
    unit: 'bytes',
    why: 'smaller parts rotate every few seconds at market rates; the size is checked every 64 frames',
  },
  'capture.maxTotalBytes': { min: 16 * MiB, max: 1024 * GiB, unit: 'bytes', why: 'at least one part (and not below maxFileBytes); at most 1 TiB of disk' },
  'capture.flushIntervalMs': {
    min: 100,
    max: 10 * SECOND,
    unit: 'ms',
    why: 'a SIGKILL loses at most this much of the recording (never more than one commit interval: the collector flushes at least that often); each flush ends a gzip block',
  },
  commitIntervalMs: { min: 100, max: 5 * SECOND, unit: 'ms', why: 'the UI shows the newest commit every 500 ms; health is evaluated at each commit' },
  snapshotFileIntervalMs: { min: 250, max: 10 * MINUTE, unit: 'ms', why: 'each write serialises and fsyncs the full snapshot' },
  oiPollIntervalMs: {
    min: 100,
    max: MINUTE,
    unit: 'ms',
    why: 'one request per symbol per interval (never faster than one per 10 ms); above 10 s health reports OI_STALE',
  },
  oiTimeoutMs: { min: 100, max: MINUTE, unit: 'ms', why: 'one OI request in flight; a longer wait only delays the next poll' },
  staleAfterMs: {
    min: SECOND,
    max: 24 * HOUR,
    unit: 'ms',
    why: 'no frame at all for this long → reconnect; measured on the (possibly accelerated) exchange clock',
  },
  livenessCheckMs: { min: 100, max: MINUTE, unit: 'ms', why: 'how often the stall and per-stream silence checks look; detection lags by up to this much' },
  rotateAfterMs: {
    min: SECOND,
    max: 24 * HOUR,
    unit: 'ms',
    why: 'one new connection per second is the prudent budget of 300 per 5 min per IP; Binance cuts at 24 h anyway',
  },
  heapProbeIntervalMs: { min: 100, max: HOUR, unit: 'ms', off: 0, why: 'diagnostics only: a full GC per probe; 0 = off' },
  warmStartSpanMs: {
    min: MINUTE,
    max: 30 * MINUTE,
    unit: 'ms',
    why: 'at least the 60 windows the baselines need; longer costs weight (20 per 1000 trades) and aggTrades REST reaches back hours only',
  },
  warmStartTimeoutMs: {
    min: SECOND,
    max: 2 * MINUTE,
    unit: 'ms',
    why: 'live events wait (held, at most 50 000) until the backfill ends; a symbol still fetching then starts cold',
  },
  'alerts.cooldownMs': {
    min: SECOND,
    max: 24 * HOUR,
    unit: 'ms',
    why: 'occurrences of one reason within this long after its alert are counted into the next one; shorter lets a flapping link flood the screen',
  },
  'alerts.criticalAfterMs': {
    min: 0,
    max: HOUR,
    unit: 'ms',
    why: 'health must stay DEGRADED or FAILED this long before it alerts, so a brief flap stays quiet; 0 alerts the first bad commit',
  },
  'alerts.promotions.perSymbolCooldownMs': {
    min: SECOND,
    max: 24 * HOUR,
    unit: 'ms',
    why: 'at most one promotion alert per symbol per this long (later ones counted into the next); one window is 1 s',
  },
  'alerts.promotions.digestEveryMs': { min: MINUTE, max: 24 * HOUR, unit: 'ms', why: 'digest mode: one summary alert per this long while events come' },
  'worker.maxRestarts': {
    min: 1,
    max: 100,
    unit: 'count',
    why: 'restarts of a crashed collector worker within worker.restartWindowMs before the host gives up (FAILED, exit 1); a worker that crashes at once would otherwise restart for ever',
  },
  'worker.restartWindowMs': {
    min: MINUTE,
    max: 24 * HOUR,
    unit: 'ms',
    why: 'the span worker.maxRestarts is counted in: restarts older than this are forgiven',
  },
  'worker.restartBackoffMs': {
    min: 100,
    max: 30 * SECOND,
    unit: 'ms',
    why: 'the wait before the first restart, doubled for each restart still within the window (±20 % jitter)',
  },
  'worker.restartBackoffMaxMs': {
    min: SECOND,
    max: 10 * MINUTE,
    unit: 'ms',
    why: 'the longest wait before a restart; a collector that is down misses the market meanwhile (the capture marks no gap for it: no frame was received)',
  },
} as const satisfies Record<string, Bound>;

export type BoundedField = keyof typeof CONFIG_BOUNDS;

const ALERT_DEFAULTS = AlertSettingsSchema.parse({});

export function boundMessage(b: Bound): string {
  const range = `from ${humanBound(b.min, b.unit)} to ${humanBound(b.max, b.unit)} (${b.min}–${b.max} ${b.unit})`;
  return `must be a whole number ${range}${b.off !== undefined ? `, or ${b.off} for off` : ''}`;
}

function bounded(field: BoundedField, def: number) {
  const b: Bound = CONFIG_BOUNDS[field];
  if (b.unit === 'ms' && b.max > MAX_TIMER_MS) throw new Error(`${field}: a timer bound above ${MAX_TIMER_MS} ms would fire at once`);
  const msg = boundMessage(b);
  const n = z.number({ error: msg }).int(msg).min(b.min, msg).max(b.max, msg);
  return (b.off === undefined ? n : z.union([z.literal(b.off), n], { error: msg })).default(def);
}

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
    debugDir: z.string().min(1, 'must not be empty').default('debug'),
    /** Capture recorder; on by default so every live run can be replayed exactly. */
    capture: z
      .object({
        enabled: z.boolean().default(true),
        dir: z.string().min(1, 'must not be empty').default('captures'),
        /** Rotate to a new file after this many compressed bytes. */
        maxFileBytes: bounded('capture.maxFileBytes', 64 * MiB),
        /** Delete the oldest captures beyond this total. */
        maxTotalBytes: bounded('capture.maxTotalBytes', 2 * GiB),
        /** Flush to disk this often: a crash loses at most this much of the recording. */
        flushIntervalMs: bounded('capture.flushIntervalMs', 500),
      })
      .refine((c) => c.maxTotalBytes >= c.maxFileBytes, {
        path: ['maxTotalBytes'],
        message: 'must not be below capture.maxFileBytes (the total must hold at least one part)',
      })
      .prefault({}),
    /** Health evaluation and commits. */
    commitIntervalMs: bounded('commitIntervalMs', 500),
    snapshotFileIntervalMs: bounded('snapshotFileIntervalMs', 5000),
    oiPollIntervalMs: bounded('oiPollIntervalMs', 5000),
    oiTimeoutMs: bounded('oiTimeoutMs', 5000),
    /** Reconnect when no frame at all arrived for this long. */
    staleAfterMs: bounded('staleAfterMs', 30_000),
    /** How often the stall and per-stream silence checks run. */
    livenessCheckMs: bounded('livenessCheckMs', 1000),
    /** Rotate the WS connection before Binance's 24 h cut. */
    rotateAfterMs: bounded('rotateAfterMs', (23 * 60 + 50) * MINUTE),
    /** Subscribe to markPrice@1s for display. */
    markPrice: z.boolean().default(true),
    /**
     * Diagnostics for memory benchmarks: when > 0 and node runs with --expose-gc, a full GC every
     * this many ms measures the worker's live heap exactly. Off (0) in the product.
     */
    heapProbeIntervalMs: bounded('heapProbeIntervalMs', 0),
    /**
     * Warm start (SPEC §20): after the symbol set is frozen, backfill the last warmStartSpanMs of
     * aggTrades per symbol so the baselines are warm at once. `--no-warm-start` turns it off.
     */
    warmStart: z.boolean().default(true),
    warmStartSpanMs: bounded('warmStartSpanMs', 5 * MINUTE),
    warmStartTimeoutMs: bounded('warmStartTimeoutMs', 15 * SECOND),
    /**
     * TCP keepalive on REST connections (undici's connector). Off only as a workaround for wine,
     * whose setsockopt(SO_KEEPALIVE) fails with UNKNOWN and so fails every connect; real Windows,
     * Linux and macOS have it. The WebSocket (ws) sets no keepalive and connects under wine as is.
     */
    tcpKeepAlive: z.boolean().default(true),
    /**
     * Stage DOCTOR_CHECKS at start (src/doctor): both WS routes, REST, clock skew, disks, folders.
     * Soft: a failure is a health reason and an alert. Off for in-process tests on a manual clock,
     * whose probes would wait on a clock nobody advances for them.
     */
    doctorAtBoot: z.boolean().default(true),
    /**
     * Order books (SPEC §18): `<s>@depth@100ms` on /public and GET /fapi/v1/depth snapshots. Off:
     * no depth traffic and about half the capture's bytes; policy four-pillars-001 then counts
     * `book_unavailable` at its pillar 4. M3 does not read the books either way.
     */
    books: z.boolean().default(true),
    logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
    /** The event store (SPEC §21): every promoted event is committed here before a snapshot shows it. */
    store: z
      .object({
        /** The SQLite file, relative to the working directory like debugDir (default data/peak-pressure.db). */
        path: z.string().min(1, 'must not be empty').default(DEFAULT_STORE_PATH),
        /** FULL: an event shown survives a power cut (an fsync per commit); NORMAL: survives a crash or kill of the process. */
        synchronous: z.enum(['FULL', 'NORMAL']).default('FULL'),
      })
      .strict()
      .prefault({}),
    /** What reaches the operator (src/alerts/settings.ts); nothing here changes detection. */
    alerts: z
      .object({
        cooldownMs: bounded('alerts.cooldownMs', ALERT_DEFAULTS.cooldownMs),
        criticalAfterMs: bounded('alerts.criticalAfterMs', ALERT_DEFAULTS.criticalAfterMs),
        promotions: z
          .object({
            mode: PromotionAlertModeSchema.default(ALERT_DEFAULTS.promotions.mode),
            perSymbolCooldownMs: bounded('alerts.promotions.perSymbolCooldownMs', ALERT_DEFAULTS.promotions.perSymbolCooldownMs),
            digestEveryMs: bounded('alerts.promotions.digestEveryMs', ALERT_DEFAULTS.promotions.digestEveryMs),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    /**
     * A collector worker that crashed (an uncaught exception, V8 out of memory; not a configuration
     * error such as SYMBOLS_INVALID, which a restart cannot fix): `restart` starts a new one (a new
     * run) after a capped exponential backoff, at most maxRestarts times within restartWindowMs, then
     * gives up (FAILED, exit 1); `exit` ends at once (FAILED, exit 1). Unset: the window restarts,
     * `live --headless` exits, so a supervisor (systemd, a scheduler) sees the crash and owns the policy.
     */
    worker: z
      .object({
        onCrash: z.enum(['restart', 'exit']).optional(),
        maxRestarts: bounded('worker.maxRestarts', 5),
        restartWindowMs: bounded('worker.restartWindowMs', 10 * MINUTE),
        restartBackoffMs: bounded('worker.restartBackoffMs', SECOND),
        restartBackoffMaxMs: bounded('worker.restartBackoffMaxMs', 30 * SECOND),
      })
      .strict()
      .refine((w) => w.restartBackoffMaxMs >= w.restartBackoffMs, {
        path: ['restartBackoffMaxMs'],
        message: 'must not be below worker.restartBackoffMs',
      })
      .prefault({}),
  })
  .strict();

export type CollectorConfig = z.infer<typeof CollectorConfigSchema>;
export type CollectorConfigInput = z.input<typeof CollectorConfigSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** The environment variables we read, by config path; everything else comes from the file or flags. */
export const ENV_VARS = {
  restUrl: 'PEAK_PRESSURE_REST_URL',
  wsUrl: 'PEAK_PRESSURE_WS_URL',
  debugDir: 'PEAK_PRESSURE_DEBUG_DIR',
  logLevel: 'PEAK_PRESSURE_LOG_LEVEL',
  'capture.enabled': 'PEAK_PRESSURE_CAPTURE',
  tcpKeepAlive: 'PEAK_PRESSURE_TCP_KEEPALIVE',
  'worker.onCrash': 'PEAK_PRESSURE_ON_WORKER_CRASH',
} as const;

export function configFromEnv(env: NodeJS.ProcessEnv): CollectorConfigInput {
  const out: Record<string, unknown> = {};
  if (env[ENV_VARS.restUrl]) out.restUrl = env[ENV_VARS.restUrl];
  if (env[ENV_VARS.wsUrl]) out.wsUrl = env[ENV_VARS.wsUrl];
  if (env[ENV_VARS.debugDir]) out.debugDir = env[ENV_VARS.debugDir];
  if (env[ENV_VARS.logLevel]) out.logLevel = env[ENV_VARS.logLevel];
  if (env[ENV_VARS['capture.enabled']] === '0') out.capture = { enabled: false };
  if (env[ENV_VARS.tcpKeepAlive] === '0') out.tcpKeepAlive = false;
  if (env[ENV_VARS['worker.onCrash']]) out.worker = { onCrash: env[ENV_VARS['worker.onCrash']] };
  return out as CollectorConfigInput;
}

type Path = readonly PropertyKey[];

function lookup(obj: unknown, path: Path): { found: boolean; value: unknown } {
  let cur: unknown = obj;
  for (const k of path) {
    if (typeof cur !== 'object' || cur === null || !Object.prototype.hasOwnProperty.call(cur, k)) return { found: false, value: undefined };
    cur = (cur as Record<PropertyKey, unknown>)[k];
  }
  return { found: true, value: cur };
}

/** Where a value came from, for an error message that says what to fix. */
interface Layer {
  values: unknown;
  /** `--ws-url`, `env PEAK_PRESSURE_WS_URL`, `file /x/c.json`; null: nothing more to say than the key. */
  label: (key: string) => string | null;
}

/** The table's entry for `a.b.c`, else for `a.b`, else for `a` (`symbols.3` → `--symbols`). */
function byPrefix(table: Readonly<Record<string, string>> | undefined, key: string): string | null {
  for (let k = key; table !== undefined; k = k.slice(0, k.lastIndexOf('.'))) {
    const hit = table[k];
    if (hit !== undefined) return hit;
    if (!k.includes('.')) break;
  }
  return null;
}

function shown(v: unknown): string {
  const text = typeof v === 'string' ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v));
  return safeMessage(text, 80);
}

function describeIssues(err: z.ZodError, layers: readonly Layer[]): string {
  return err.issues
    .map((i) => {
      // An unknown key reports the object's path; point at the key itself.
      const path: Path = i.code === 'unrecognized_keys' && i.keys[0] !== undefined ? [...i.path, i.keys[0]] : i.path;
      const key = path.map(String).join('.') || '(root)';
      const from = layers.find((l) => lookup(l.values, path).found);
      const got = from ? lookup(from.values, path).value : undefined;
      const label = from ? from.label(key) : null;
      const where = label !== null ? `${label}: ` : '';
      return `${where}${key}: ${safeMessage(i.message)}${from && i.code !== 'unrecognized_keys' ? ` (got ${shown(got)})` : ''}`;
    })
    .join('; ');
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Later layers win; nested objects merge key by key; arrays and values are replaced whole. */
function mergeLayers(...layers: Record<string, unknown>[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const layer of layers) {
    for (const [k, v] of Object.entries(layer)) {
      const cur = out[k];
      out[k] = isRecord(cur) && isRecord(v) ? mergeLayers(cur, v) : v;
    }
  }
  return out;
}

/**
 * Merge the layers and validate. `file` is a JSON config path (missing file = error: the user
 * asked for it). `flagNames` maps config paths to the flags that set them, for the messages.
 * Throws ConfigError naming, for every problem, the env variable, flag or file it came from.
 */
export function loadConfig(layers: {
  file?: string;
  env?: NodeJS.ProcessEnv;
  flags?: CollectorConfigInput;
  flagNames?: Readonly<Record<string, string>>;
}): CollectorConfig {
  let fromFile: Record<string, unknown> = {};
  let fileLayer: Layer | null = null;
  if (layers.file) {
    const path = resolve(layers.file);
    const shownPath = safeMessage(path);
    let text: string;
    try {
      text = readTextBounded(path, MAX_CONFIG_FILE_BYTES);
    } catch (e) {
      if (e instanceof TooLargeError)
        throw new ConfigError(`config file ${shownPath} is larger than ${humanBound(MAX_CONFIG_FILE_BYTES, 'bytes')} (not a config file?)`);
      throw new ConfigError(`cannot read config file ${shownPath}: ${describeFsError(e)}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw new ConfigError(`config file ${shownPath} is not valid JSON: ${safeMessage((e as Error).message)}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ConfigError(`config file ${shownPath} must hold one JSON object`);
    fromFile = parsed as Record<string, unknown>;
    fileLayer = { values: fromFile, label: () => `file ${shownPath}` };
    const check = CollectorConfigSchema.safeParse(fromFile);
    if (!check.success)
      throw new ConfigError(`invalid config: ${describeIssues(check.error, [fileLayer])}; fix the file, or remove the key to use the default`);
  }
  const fromEnv = configFromEnv(layers.env ?? {});
  const flags = layers.flags ?? {};
  // Sections merge key by key (`--db` sets store.path, the file may set store.synchronous).
  const merged = mergeLayers(fromFile, fromEnv as Record<string, unknown>, flags as Record<string, unknown>);
  const r = CollectorConfigSchema.safeParse(merged);
  if (!r.success) {
    const envNames: Readonly<Record<string, string>> = ENV_VARS;
    const order: Layer[] = [
      { values: flags, label: (key) => byPrefix(layers.flagNames, key) },
      { values: fromEnv, label: (key) => `env ${byPrefix(envNames, key) ?? key}` },
      ...(fileLayer ? [fileLayer] : []),
    ];
    throw new ConfigError(`invalid configuration: ${describeIssues(r.error, order)}`);
  }
  return r.data;
}
