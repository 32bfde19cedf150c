/**
 * `--sink` / `--http` as they cross into the collector worker (SPEC §22). Its own module: the main
 * thread needs the schema, not the sinks, the HTTP server or their clients.
 */
import { z } from 'zod';
import { SinkSpecSchema } from '../sinks/spec';

/** What the command line asked for, as it crosses into the collector worker. */
export const ScaleOutSpecSchema = z.object({
  sinks: z.array(SinkSpecSchema),
  http: z.object({ host: z.string(), port: z.number().int().min(0).max(65_535) }).nullable(),
  /** The event store the sinks drain and /api/events reads (default: the collector's, data/peak-pressure.db). */
  storePath: z.string().optional(),
});
export type ScaleOutSpec = z.infer<typeof ScaleOutSpecSchema>;
