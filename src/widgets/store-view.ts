/**
 * The event store in the health panel (pure): one line saying whether events are being recorded,
 * and, while they are not, why and how many wait to be stored (and so are not shown yet).
 */
import type { Snapshot } from '../core/contracts/snapshot';
import { formatInt } from './view-model';

export function storeLine(s: Snapshot): string {
  const st = s.store;
  if (st === null) return 'Event store: none (replay)';
  const p99 = st.persist.p99_ms === null ? '' : `, commit p99 ${st.persist.p99_ms.toFixed(1)} ms`;
  if (st.state === 'OK')
    return `Event store: OK (${st.path}${st.driver === 'wasm' ? ', wasm driver' : ''}), ${formatInt(st.events_written)} events stored this run${p99}`;
  const waiting = st.pending_events > 0 ? ` — ${formatInt(st.pending_events)} event${st.pending_events === 1 ? '' : 's'} wait to be stored and shown` : '';
  const lost = st.dropped_events > 0 ? `; ${formatInt(st.dropped_events)} lost (queue full; still in debug/audit.jsonl)` : '';
  return `Event store: ${st.state} (${st.reason ?? 'STORE_UNAVAILABLE'})${waiting}${lost}`;
}
