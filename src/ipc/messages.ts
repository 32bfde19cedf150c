/**
 * Messages between the collector worker and the main (UI) thread. Versioned, and validated with
 * zod on receipt: a structured clone crosses a thread boundary, and the UI must never render (or
 * die on) something that is not a snapshot.
 */
import { z } from 'zod';
import { PromotedEventSchema } from '../core/contracts/promoted';
import { AlertSchema } from '../core/contracts/alert';
import { SnapshotSchema } from '../core/contracts/snapshot';
import { ReasonCodeSchema, StageNameSchema } from '../core/contracts/vocabulary';
import { CollectorConfigSchema } from '../collector/config';
import { ScaleOutSpecSchema } from '../app/scale-out-spec';
import { ClockSpecSchema } from '../clock/accelerated';
import { HISTORY_LIMIT, HistoryEntrySchema } from '../store/history';

export const IPC_VERSION = 1 as const;

export const WorkerToMainSchema = z.discriminatedUnion('type', [
  /**
   * A committed snapshot as the window renders it (src/ipc/ui-feed.ts): raw buffers cut to the
   * feed rows, `promoted_events` empty; `events` are the ones promoted since the previous message.
   */
  z.object({ v: z.literal(IPC_VERSION), type: z.literal('snapshot'), snapshot: SnapshotSchema, events: z.array(PromotedEventSchema) }),
  z.object({ v: z.literal(IPC_VERSION), type: z.literal('stage'), stage: StageNameSchema, detail: z.string() }),
  z.object({ v: z.literal(IPC_VERSION), type: z.literal('console'), line: z.string() }),
  z.object({ v: z.literal(IPC_VERSION), type: z.literal('fatal'), reason: ReasonCodeSchema, detail: z.string() }),
  z.object({ v: z.literal(IPC_VERSION), type: z.literal('stopped') }),
  /** An alert for the window's channels (toast, tray, sound); the worker has already printed, audited and stored it. */
  z.object({ v: z.literal(IPC_VERSION), type: z.literal('alert'), alert: AlertSchema }),
  /** Once at start: earlier runs' events from the store, newest first (the Promoted Events panel shows them below this run's). */
  z.object({
    v: z.literal(IPC_VERSION),
    type: z.literal('history'),
    entries: z.array(HistoryEntrySchema).max(HISTORY_LIMIT),
    skipped: z.number().int().nonnegative(),
  }),
]);
export type WorkerToMain = z.infer<typeof WorkerToMainSchema>;

export const MainToWorkerSchema = z.discriminatedUnion('type', [
  z.object({ v: z.literal(IPC_VERSION), type: z.literal('stop') }),
  /** The main thread took the last snapshot posted: the worker may post the next (src/ipc/mailbox.ts). */
  z.object({ v: z.literal(IPC_VERSION), type: z.literal('snapshot_ack') }),
]);
export type MainToWorker = z.infer<typeof MainToWorkerSchema>;

/**
 * Why this worker is not the first of the app: the host restarted a crashed one (src/ipc/host.ts).
 * The new collector says so in its health, audit, alerts and snapshot.
 */
export const WorkerRestartSchema = z.object({
  /** Restarts so far in this process (this one included). */
  count: z.number().int().positive(),
  /** Restarts within the configured window (this one included), of at most `max`. */
  in_window: z.number().int().positive(),
  max: z.number().int().positive(),
  previous_run_id: z.string(),
  /** The crashed worker's fatal reason (WORKER_EXITED when it said none) and what it said. */
  reason: ReasonCodeSchema,
  detail: z.string(),
  exit_code: z.number().int(),
  exited_ms: z.number().int(),
  backoff_ms: z.number().int().nonnegative(),
});
export type WorkerRestart = z.infer<typeof WorkerRestartSchema>;

export const WorkerDataSchema = z.object({
  v: z.literal(IPC_VERSION),
  config: CollectorConfigSchema,
  runId: z.string(),
  clock: ClockSpecSchema.optional(),
  /** false: the main thread reads no snapshots (headless), so none are posted; default true. */
  snapshots: z.boolean().optional(),
  /** `--sink` / `--http` (SPEC §22): started in the worker beside the collector; absent = neither. */
  scaleOut: ScaleOutSpecSchema.optional(),
  /** Highlight alert lines with ANSI colours (the main thread's stdout is a terminal). */
  consoleColor: z.boolean().optional(),
  /** Set when the host restarted a crashed worker (absent for the first). */
  restart: WorkerRestartSchema.optional(),
});
export type WorkerData = z.infer<typeof WorkerDataSchema>;

export type Parsed<T> = { ok: true; msg: T } | { ok: false; error: string };

function parseWith<T>(schema: z.ZodType<T>, raw: unknown): Parsed<T> {
  const r = schema.safeParse(raw);
  if (r.success) return { ok: true, msg: r.data };
  const i = r.error.issues[0];
  return { ok: false, error: `${i ? `${i.path.join('.') || '(root)'}: ${i.message}` : 'invalid'}` };
}

export const parseWorkerMessage = (raw: unknown): Parsed<WorkerToMain> => parseWith(WorkerToMainSchema, raw);
export const parseMainMessage = (raw: unknown): Parsed<MainToWorker> => parseWith(MainToWorkerSchema, raw);
