/**
 * The warm start (SPEC §20), as the capture and the snapshot see it. The collector brackets its
 * backfill with two marker frames of its own (source `local:warm-start`): everything between them
 * is held back by the frame pipeline until the end marker, so a replay of the capture meets the
 * same phase at the same frames and reproduces the run exactly.
 */
import { z } from 'zod';
import { count, symbolString } from './primitives';

/** Why a symbol starts cold although a warm start ran. */
export const WarmStartFailureSchema = z.enum([
  /** HTTP 429: the IP's weight budget is spent; nothing more is sent until Retry-After. */
  'rate_limited',
  /** HTTP 418: the IP is banned for a while. */
  'banned',
  'timeout',
  /** The connection failed before an answer (reset, refused, DNS). */
  'network',
  /** HTTP 5xx: the exchange's outcome is unknown. */
  'server_error',
  /** Any other refusal (403 WAF, 451 region, 4xx). */
  'refused',
  /** A page that does not parse whole, or whose trade ids do not continue the previous page. */
  'partial_page',
  /** The symbol's pages did not fit into the warm start's share of the weight budget. */
  'budget',
  /** The warm start's time limit passed before the symbol's last page. */
  'deadline',
  /** The pages stop before a short (last) page: the span was not covered up to the live stream. */
  'incomplete',
  /** More trades than the warm start keeps in memory (LIMITS.WARM_START_MAX_TRADES). */
  'too_many_trades',
  /** No page of this symbol arrived at all. */
  'no_pages',
]);
export type WarmStartFailure = z.infer<typeof WarmStartFailureSchema>;

export const WarmStartFailedSchema = z.record(symbolString, z.object({ reason: WarmStartFailureSchema, detail: z.string().max(300) }));
export type WarmStartFailed = z.infer<typeof WarmStartFailedSchema>;

/** The text of a `local:warm-start` frame. */
export const WarmStartMarkerSchema = z.discriminatedUnion('warm_start', [
  /** From here on the pipeline holds every market event back until the end marker. */
  z.strictObject({ warm_start: z.literal('begin'), span_ms: z.number().int().positive() }),
  /** The backfill is over: the collector's per-symbol failures (the pipeline adds what it saw itself). */
  z.strictObject({ warm_start: z.literal('end'), failed: WarmStartFailedSchema }),
]);
export type WarmStartMarker = z.infer<typeof WarmStartMarkerSchema>;

/** The warm start in the snapshot: what ran, what it delivered, who starts cold and why. */
export const WarmStartStatusSchema = z.object({
  /** OFF: no warm start in this run; RUNNING: between the markers; DONE: backfill fed. */
  state: z.enum(['OFF', 'RUNNING', 'DONE']),
  span_ms: count,
  /** History pages received, and the trades they held. */
  pages: count,
  page_trades: count,
  /** Pages outside the warm start (none running, or after its end) or of a symbol not observed: counted, not used. */
  unused_pages: count,
  /** Market events waiting for the end marker (RUNNING), and the most that ever waited. */
  held_events: count,
  held_events_max: count,
  /** Symbols whose backfill filled their baselines, in rank order. */
  backfilled: z.array(symbolString),
  failed: WarmStartFailedSchema,
});
export type WarmStartStatus = z.infer<typeof WarmStartStatusSchema>;
