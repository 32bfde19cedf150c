/**
 * The window layout that survives a restart: splitter sizes, the open tab, the events table's
 * column widths and sort, the window size. A UI-local preference: it never reaches the collector.
 * Stored as one JSON value (src/widgets/layout-store.ts); anything that does not validate is
 * ignored with the reason, and the default layout is used.
 */
import { z } from 'zod';
import { EVENT_COLUMNS } from './events-model';

const size = z.number().int().min(0).max(100_000);
const pair = z.tuple([size, size]);

export const LayoutSchema = z.object({
  v: z.literal(1),
  window: z.object({ width: z.number().int().min(320).max(20_000), height: z.number().int().min(240).max(20_000) }),
  /** Main vertical splitter: System Health | the rest. */
  main: pair,
  /** Bottom horizontal splitter: Raw Market Feed | the tabs. */
  bottom: pair,
  /** Events tab vertical splitter: table | detail pane. */
  events: pair,
  /** Key of the open tab (`events` or a coming panel's key). */
  tab: z.string().min(1).max(64),
  /** Events table column widths, one per column, in logical pixels. */
  columns: z.array(z.number().int().min(8).max(4000)).length(EVENT_COLUMNS.length),
  sort: z.object({
    column: z
      .number()
      .int()
      .min(0)
      .max(EVENT_COLUMNS.length - 1),
    descending: z.boolean(),
  }),
});
export type Layout = z.infer<typeof LayoutSchema>;

export type LayoutRead = { layout: Layout; problem: null } | { layout: null; problem: string | null };

/** `raw` is the stored text, or null when nothing was stored (first start: no problem). */
export function parseLayout(raw: string | null): LayoutRead {
  if (raw === null || raw === '') return { layout: null, problem: null };
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (e) {
    return { layout: null, problem: `not JSON (${e instanceof Error ? e.message : String(e)})` };
  }
  const r = LayoutSchema.safeParse(json);
  if (r.success) return { layout: r.data, problem: null };
  const i = r.error.issues[0];
  return { layout: null, problem: i ? `${i.path.join('.') || '(root)'}: ${i.message}` : 'invalid' };
}

export function sameLayout(a: Layout | null, b: Layout | null): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
