/**
 * What the sinks add to the collector's health (SPEC §22): `SINK_DEGRADED` while any sink fails,
 * with one line per failing sink saying what waits and since when. Pure (given the statuses).
 */
import type { SinkStatus } from '../core/contracts/sink-status';
import type { ReasonCode } from '../core/contracts/vocabulary';

function iso(ms: number | null): string {
  return ms === null ? 'never' : new Date(ms).toISOString();
}

export function sinkHealth(statuses: readonly SinkStatus[] | undefined): { reasons: ReasonCode[]; detail: string } {
  const bad = (statuses ?? []).filter((s) => s.state === 'DEGRADED');
  if (bad.length === 0) return { reasons: [], detail: '' };
  const lines = bad.map(
    (s) =>
      `sink ${s.sink}: ${s.last_error ?? 'failing'}; ${s.backlog} rows wait in the local store${
        s.failing_since_ms === null ? '' : ` (failing since ${iso(s.failing_since_ms)})`
      }, last delivered ${iso(s.last_delivered_ms)}`,
  );
  return { reasons: ['SINK_DEGRADED'], detail: lines.join('; ') };
}
