/**
 * `peak-pressure doctor` (seed 002 DOCTOR_CHECKS): one pass/fail verdict per check, each with the
 * figures it saw and, when it fails, what to do. The checks only judge; every effect on the world
 * (sockets, HTTP, statfs, temp files, a child process for Qt) goes through the injected
 * `DoctorIo`, so tests drive them with the simulator or stubs and the collector can run the same
 * checks at boot, where a failure becomes a health reason and an alert instead of an exit code.
 */
import { dirname } from 'node:path';
import type { CheckId, CheckResult } from '../core/contracts/doctor';
import type { ReasonCode } from '../core/contracts/vocabulary';
import { safeMessage } from '../text/safe';
import type { StoreFiles } from '../store/files';
import { type DiskFinding, DISK_LIMITS, type DiskLimits, humanBytes, storageFindings, storageSection, type StorageSample } from './disk';

export const DOCTOR = Object.freeze({
  /** "Answers and delivers a data frame within a few seconds": a liquid stream sends several per second. */
  WS_TIMEOUT_MS: 5_000,
  REST_TIMEOUT_MS: 5_000,
  /** Beyond 1 s of skew the receive-time tolerances (late/future events, OI staleness) stop meaning what they say. */
  MAX_CLOCK_SKEW_MS: 1_000,
  /** Binance USDⓈ-M REQUEST_WEIGHT per minute per IP (BINANCE.md §7), shared with other programs on the IP. */
  WEIGHT_LIMIT_PER_MINUTE: 2_400,
  /** The collector holds requests back above this share of the limit (src/collector/rest.ts). */
  PACING_SHARE: 0.9,
  /** The collector's spend: 10 OI polls per 5 s (120/min) + the 24 h ticker (40) + exchangeInfo (1) at start. */
  COLLECTOR_WEIGHT_PER_MINUTE: 120 + 40 + 1,
  QT_TIMEOUT_MS: 20_000,
  /** Liquid streams, one per route: aggTrade is what detection lives on; bookTicker is /public's busiest. */
  MARKET_STREAM: 'btcusdt@aggTrade',
  PUBLIC_STREAM: 'btcusdt@bookTicker',
});

// ---- what the checks ask of the world --------------------------------------------------------

export interface WsProbeResult {
  /** The WebSocket handshake completed. */
  opened: boolean;
  /** The SUBSCRIBE was acknowledged (`{"result":null,"id":1}`). */
  acked: boolean;
  /** From open to the first data frame of the stream; null when none came in time. */
  firstDataMs: number | null;
  /** Why the connection failed or closed early, when it did. */
  error: string | null;
}

export interface RestTimeResult {
  /** HTTP status; null when nothing answered (network error, timeout). */
  status: number | null;
  usedWeight1m: number | null;
  retryAfterS: number | null;
  /** `serverTime` of the body; null when absent or not a number. */
  serverTimeMs: number | null;
  /** Local clock when the request left and when its answer was complete. */
  sentMs: number;
  recvMs: number;
  /** Network error, or the start of a non-2xx body. */
  error: string | null;
}

export interface WriteProbeResult {
  ok: boolean;
  /** The folder that was tried: the target, or its nearest existing parent when the target does not exist yet. */
  testedDir: string;
  existed: boolean;
  /** The fs error in words, when not ok. */
  error: string | null;
}

export interface QtProbeResult {
  ok: boolean;
  /** The platform plugin Qt loaded (xcb, wayland, offscreen, windows, cocoa). */
  platform: string | null;
  /** The app's own display check refused (Linux without DISPLAY, WAYLAND_DISPLAY or QT_QPA_PLATFORM). */
  noDisplay: boolean;
  /** The child's own words when it failed (Qt's plugin lines, exit code or signal). */
  detail: string;
}

export interface DoctorIo {
  /** Open `url`, SUBSCRIBE `stream`, wait up to `timeoutMs` for one data frame of it. */
  probeWs(url: string, stream: string, timeoutMs: number): Promise<WsProbeResult>;
  /** GET `<restUrl>/fapi/v1/time` once. */
  restTime(restUrl: string, timeoutMs: number): Promise<RestTimeResult>;
  /** Sizes of the store and its WAL, and the free space beside it (store/files.ts). */
  storeFiles(storePath: string): StoreFiles;
  /** Free bytes on the volume of `path` (its nearest existing parent); null when unreadable. */
  freeBytes(path: string): number | null;
  /** Total bytes of the files in `dir`; null when it cannot be listed (0 when it does not exist). */
  dirBytes(dir: string): number | null;
  /** Create and remove a temp file in `dir` (or the parent it would be created in). */
  probeWrite(dir: string): WriteProbeResult;
  /** Whether an existing store file (and its -wal/-shm) can be opened for writing; `existed` false when there is none. */
  probeStoreFile(storePath: string): WriteProbeResult;
  /** Start Qt in a child process and report whether its platform plugin loaded. */
  probeQt(timeoutMs: number): Promise<QtProbeResult>;
}

export interface DoctorTargets {
  restUrl: string;
  /** WS root, e.g. wss://fstream.binance.com; the routes are appended. */
  wsUrl: string;
  storePath: string;
  debugDir: string;
  capturesDir: string;
  /** capture.maxTotalBytes; null when captures are off. */
  captureBudgetBytes: number | null;
  /** Check the Qt platform plugin (`--window`). */
  window: boolean;
  timeouts?: { wsMs?: number; restMs?: number; qtMs?: number };
  limits?: DiskLimits;
}

export type { CheckId, CheckResult };

const pass = (id: CheckId, summary: string): CheckResult => ({ id, ok: true, summary, fix: null, reason: null });
const fail = (id: CheckId, summary: string, fix: string, reason: ReasonCode | null): CheckResult => ({ id, ok: false, summary, fix, reason });

// ---- WebSocket routes (BINANCE.md §1: /market and /public since the 2026 split) ---------------

export function wsRouteUrl(wsUrl: string, route: 'market' | 'public'): string {
  return `${wsUrl.replace(/\/+$/, '')}/${route}/stream`;
}

export function judgeWsRoute(route: 'market' | 'public', url: string, stream: string, r: WsProbeResult, timeoutMs: number): CheckResult {
  const id: CheckId = route === 'market' ? 'ws-market' : 'ws-public';
  const what = `WS /${route} (${url})`;
  if (r.firstDataMs !== null) return pass(id, `${what} answered and delivered ${stream} after ${Math.round(r.firstDataMs)} ms`);
  if (!r.opened) {
    return fail(
      id,
      `${what} did not open: ${r.error ?? 'no answer'}`,
      'check the network, proxy and firewall for WebSocket (wss) traffic; --ws-url must be the WS root (wss://fstream.binance.com), the routes are appended',
      'STREAM_SILENT',
    );
  }
  const seen = r.acked ? 'acknowledged the SUBSCRIBE' : 'opened but never acknowledged the SUBSCRIBE';
  return fail(
    id,
    `${what} ${seen} but delivered no ${stream} frame within ${timeoutMs / 1000} s${r.error ? ` (${r.error})` : ''}`,
    `a route that acknowledges and stays silent is what a wrong or unrouted URL looks like (BINANCE.md §1): keep --ws-url at the root so /${route} is appended; a proxy that filters WebSocket paths does the same`,
    'STREAM_SILENT',
  );
}

// ---- REST and the clock (one GET /fapi/v1/time serves both) ----------------------------------

export function judgeRest(restUrl: string, r: RestTimeResult): CheckResult {
  const where = `${restUrl.replace(/\/+$/, '')}/fapi/v1/time`;
  const took = `${Math.max(0, r.recvMs - r.sentMs)} ms`;
  if (r.status === null) {
    return fail(
      'rest',
      `REST ${where} did not answer: ${r.error ?? 'no response'}`,
      'check the network, proxy and firewall; --rest-url must be the REST root (https://fapi.binance.com)',
      null,
    );
  }
  const retry = r.retryAfterS !== null ? `${r.retryAfterS} s` : 'a minute';
  switch (true) {
    case r.status === 429:
      return fail(
        'rest',
        `REST answered HTTP 429 (rate limited; Retry-After ${retry})`,
        `the IP's request budget is spent — by another program on this IP or an earlier run; wait ${retry} and stop other pollers`,
        'REST_RATE_LIMITED_429',
      );
    case r.status === 418:
      return fail(
        'rest',
        `REST answered HTTP 418 (this IP is banned for ${retry})`,
        `a program on this IP ignored Retry-After; stop every program polling Binance from this IP and wait ${retry}`,
        'REST_BANNED_418',
      );
    case r.status === 403 || r.status === 451:
      return fail(
        'rest',
        `REST answered HTTP ${r.status} (access refused)`,
        'a WAF rule or a region restriction (BINANCE.md §7): use a network from which Binance USDⓈ-M futures are permitted',
        'REST_FORBIDDEN_403_451',
      );
    case r.status >= 500:
      return fail(
        'rest',
        `REST answered HTTP ${r.status} (exchange-side error)`,
        'the exchange is in trouble; try again in a few minutes',
        'REST_SERVER_ERROR',
      );
    case r.status < 200 || r.status >= 300:
      return fail(
        'rest',
        `REST answered HTTP ${r.status} at ${where}: ${r.error ?? ''}`.trim(),
        '--rest-url must be the REST root (https://fapi.binance.com)',
        null,
      );
  }
  if (r.usedWeight1m === null) {
    return fail(
      'rest',
      `REST answered ${r.status} in ${took} but without X-MBX-USED-WEIGHT-1M, so the weight headroom is unknown`,
      'is --rest-url really Binance USDⓈ-M futures? A proxy that strips response headers hides the budget the collector paces itself by',
      null,
    );
  }
  const usable = Math.floor(DOCTOR.WEIGHT_LIMIT_PER_MINUTE * DOCTOR.PACING_SHARE);
  const headroom = usable - r.usedWeight1m;
  const seen = `REST answered ${r.status} in ${took}; weight used ${r.usedWeight1m} / ${DOCTOR.WEIGHT_LIMIT_PER_MINUTE} this minute`;
  if (headroom < DOCTOR.COLLECTOR_WEIGHT_PER_MINUTE) {
    return fail(
      'rest',
      `${seen}: ${Math.max(0, headroom)} left below the collector's ${Math.round(DOCTOR.PACING_SHARE * 100)} % pacing line, it needs ~${DOCTOR.COLLECTOR_WEIGHT_PER_MINUTE}/min`,
      'other programs on this IP spend the shared 2400/min budget; stop them or the collector will hold its OI polls back (OI_STALE)',
      null,
    );
  }
  return pass('rest', `${seen} (the collector needs ~${DOCTOR.COLLECTOR_WEIGHT_PER_MINUTE}/min)`);
}

/**
 * Offset of the exchange clock from ours, from one round trip: serverTime against the midpoint of
 * send and receive, ± half the round trip. It fails only when the skew is beyond the limit even at
 * the most favourable end of that interval.
 */
export function judgeClock(r: RestTimeResult): CheckResult {
  if (r.status === null || r.status < 200 || r.status >= 300 || r.serverTimeMs === null) {
    return fail(
      'clock',
      `the clock could not be compared: ${r.status === null ? 'REST did not answer' : `GET /fapi/v1/time gave ${r.status === 200 ? 'no serverTime' : `HTTP ${r.status}`}`}`,
      'fix the REST check first; the clock is compared with the exchange serverTime',
      null,
    );
  }
  const half = Math.max(0, r.recvMs - r.sentMs) / 2;
  const offset = r.serverTimeMs - (r.sentMs + half);
  const dir = offset > 0 ? 'behind' : 'ahead of';
  const seen = `local clock ${(Math.abs(offset) / 1000).toFixed(3)} s ${dir} the exchange (±${Math.ceil(half)} ms)`;
  if (Math.abs(offset) - half > DOCTOR.MAX_CLOCK_SKEW_MS) {
    return fail(
      'clock',
      `${seen}; receive-time checks allow ${DOCTOR.MAX_CLOCK_SKEW_MS / 1000} s`,
      'turn on time synchronisation (Linux: timedatectl set-ntp true; Windows: w32tm /resync; macOS: sntp -sS time.apple.com)',
      'CLOCK_SKEW',
    );
  }
  return pass('clock', seen);
}

// ---- disks and the store ---------------------------------------------------------------------

function diskResult(id: CheckId, f: DiskFinding | undefined, ok: string): CheckResult {
  return f === undefined ? pass(id, ok) : fail(id, f.summary, f.fix, f.reason);
}

/** One reading of the disks through `io` (the doctor's disk checks and the collector's periodic DiskWatch read them alike). */
export function readDisks(
  io: Pick<DoctorIo, 'storeFiles' | 'freeBytes' | 'dirBytes'>,
  t: Pick<DoctorTargets, 'storePath' | 'capturesDir'>,
  nowMs: number,
): Omit<StorageSample, 'reference'> {
  const files = io.storeFiles(t.storePath);
  // The store's folder may not exist yet: judge the volume it will be created on.
  const storeFree = files.free_bytes ?? io.freeBytes(t.storePath);
  return {
    nowMs,
    storePath: t.storePath,
    files: { ...files, free_bytes: storeFree },
    capturesDir: t.capturesDir,
    capturesBytes: io.dirBytes(t.capturesDir),
    capturesFreeBytes: io.freeBytes(t.capturesDir),
  };
}

export function diskChecks(t: DoctorTargets, io: DoctorIo, nowMs: number): CheckResult[] {
  const sample = readDisks(io, t, nowMs);
  const { files, capturesBytes } = sample;
  const s = storageSection({ ...sample, reference: null });
  const limits = t.limits ?? DISK_LIMITS;
  const findings = storageFindings(s, t.captureBudgetBytes, limits);
  const of = (subject: DiskFinding['subject']): DiskFinding | undefined => findings.find((f) => f.subject === subject);
  const free = (b: number | null): string => (b === null ? 'unknown free space' : `${humanBytes(b)} free`);
  return [
    s.store_free_bytes === null
      ? fail('disk-store', `free space beside the store ${t.storePath} cannot be read`, 'check that the path is on a mounted, readable disk', null)
      : diskResult('disk-store', of('store'), `${free(s.store_free_bytes)} beside the store (${humanBytes(s.db_bytes)} + WAL ${humanBytes(s.wal_bytes)})`),
    t.captureBudgetBytes === null
      ? pass('disk-captures', 'captures are off')
      : s.captures_free_bytes === null
        ? fail('disk-captures', `free space for captures in ${t.capturesDir} cannot be read`, 'check that the folder is on a mounted, readable disk', null)
        : diskResult(
            'disk-captures',
            of('captures'),
            `${free(s.captures_free_bytes)} for captures (${humanBytes(capturesBytes ?? 0)} of a ${humanBytes(t.captureBudgetBytes)} budget used)`,
          ),
    diskResult(
      'store-wal',
      of('wal'),
      files.db_bytes === 0 ? 'no store yet (a live run creates it)' : `WAL ${humanBytes(s.wal_bytes)} (below ${humanBytes(limits.WAL_MAX_BYTES)})`,
    ),
  ];
}

// ---- write permission ------------------------------------------------------------------------

function judgeWrite(id: CheckId, label: string, dir: string, r: WriteProbeResult, reason: ReasonCode): CheckResult {
  const where = r.existed ? dir : `${dir} (not there yet; it would be created in ${r.testedDir})`;
  if (r.ok) return pass(id, `${label} ${where} is writable`);
  return fail(
    id,
    `${label} ${where} cannot be written: ${r.error ?? 'unknown error'}`,
    `make ${r.testedDir} writable for this user, or point ${label} elsewhere`,
    reason,
  );
}

export function writeChecks(t: DoctorTargets, io: DoctorIo): CheckResult[] {
  const store = io.probeStoreFile(t.storePath);
  const storeDir = io.probeWrite(dirname(t.storePath));
  const storeResult =
    store.existed && !store.ok
      ? fail(
          'write-store',
          `the store ${t.storePath} cannot be written: ${store.error ?? 'unknown error'}`,
          'make the file, its -wal and -shm and its folder writable, or start with --db elsewhere',
          'STORE_READ_ONLY',
        )
      : judgeWrite('write-store', 'the store folder', dirname(t.storePath), storeDir, 'STORE_READ_ONLY');
  return [
    judgeWrite('write-debug', 'debug folder', t.debugDir, io.probeWrite(t.debugDir), 'DIR_NOT_WRITABLE'),
    judgeWrite('write-captures', 'captures folder', t.capturesDir, io.probeWrite(t.capturesDir), 'DIR_NOT_WRITABLE'),
    storeResult,
  ];
}

// ---- Qt (window only) ------------------------------------------------------------------------

export function judgeQt(r: QtProbeResult): CheckResult {
  if (r.ok) return pass('qt', `Qt started with the ${r.platform ?? 'default'} platform plugin`);
  if (r.noDisplay) {
    return fail(
      'qt',
      `no display for the window: ${r.detail}`,
      'run it in a desktop session or under a virtual display (xvfb-run -a npm start); QT_QPA_PLATFORM=offscreen starts Qt without showing anything; or run without a window: live --headless',
      null,
    );
  }
  return fail(
    'qt',
    `Qt could not start: ${r.detail}`,
    'install the platform plugin and its libraries (Debian/Ubuntu: apt install qt6-qpa-plugins libxcb-cursor0), pick one with QT_QPA_PLATFORM (xcb, wayland; offscreen shows nothing), or run without a window: live --headless',
    null,
  );
}

// ---- all of them -----------------------------------------------------------------------------

/** Every check in its fixed order; the network ones run concurrently. */
export async function runDoctor(t: DoctorTargets, io: DoctorIo, now: () => number): Promise<CheckResult[]> {
  const wsMs = t.timeouts?.wsMs ?? DOCTOR.WS_TIMEOUT_MS;
  const market = wsRouteUrl(t.wsUrl, 'market');
  const pub = wsRouteUrl(t.wsUrl, 'public');
  const [m, p, rest, qt] = await Promise.all([
    io.probeWs(market, DOCTOR.MARKET_STREAM, wsMs),
    io.probeWs(pub, DOCTOR.PUBLIC_STREAM, wsMs),
    io.restTime(t.restUrl, t.timeouts?.restMs ?? DOCTOR.REST_TIMEOUT_MS),
    t.window ? io.probeQt(t.timeouts?.qtMs ?? DOCTOR.QT_TIMEOUT_MS) : Promise.resolve(null),
  ]);
  return [
    judgeWsRoute('market', market, DOCTOR.MARKET_STREAM, m, wsMs),
    judgeWsRoute('public', pub, DOCTOR.PUBLIC_STREAM, p, wsMs),
    judgeRest(t.restUrl, rest),
    judgeClock(rest),
    ...diskChecks(t, io, now()),
    ...writeChecks(t, io),
    ...(qt === null ? [] : [judgeQt(qt)]),
  ];
}

/** The printed report: one line per check (and its fix), then the tally. */
export function formatReport(results: readonly CheckResult[]): string {
  const width = Math.max(...results.map((r) => r.id.length));
  const lines: string[] = [];
  for (const r of results) {
    // Summaries quote URLs, paths and error texts: printed as one safe line each.
    lines.push(`${r.ok ? 'PASS' : 'FAIL'}  ${r.id.padEnd(width)}  ${safeMessage(r.summary)}`);
    if (r.fix !== null) lines.push(`${' '.repeat(width + 8)}fix: ${safeMessage(r.fix)}`);
  }
  const failed = results.filter((r) => !r.ok).length;
  lines.push(failed === 0 ? `doctor: all ${results.length} checks passed` : `doctor: ${failed} of ${results.length} checks failed`);
  return `${lines.join('\n')}\n`;
}
