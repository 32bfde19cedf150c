/**
 * The doctor's checks inside a running collector (stage DOCTOR_CHECKS at boot): failures fail
 * soft into health reasons and alerts, never into an exit. Pure: results in, reasons, alert
 * conditions and console lines out. (The periodic disk/WAL check is disk.ts DiskWatch.)
 */
import type { ReasonCode } from '../core/contracts/vocabulary';
import type { Condition } from '../alerts/engine';
import type { CheckResult } from './checks';
import { addNotes } from './disk';

/**
 * Reasons only the doctor can see; they stay among the health reasons until a later check passes.
 * The others (STREAM_SILENT, REST_*) are alerted once at boot: from then on the collector's own
 * stream and REST health says them from live evidence, which supersedes a boot-time probe.
 */
export const LASTING_REASONS: ReadonlySet<ReasonCode> = new Set<ReasonCode>([
  'CLOCK_SKEW',
  'DISK_LOW',
  'STORE_WAL_GROWING',
  'DIR_NOT_WRITABLE',
  'STORE_READ_ONLY',
]);

export interface HealthNote {
  reason: ReasonCode;
  /** What was found and what to do, for health_detail and the alert. */
  detail: string;
}

export interface DoctorFindings {
  /** Lasting reasons for the health verdict (listed without degrading: detection itself is unaffected). */
  lasting: HealthNote[];
  /** One alert condition per failed check that has a reason code (AlertEngine.raise, WARN). */
  alerts: Condition[];
  /** One console line per failed check. */
  lines: string[];
}

export function doctorFindings(results: readonly CheckResult[]): DoctorFindings {
  const out: DoctorFindings = { lasting: [], alerts: [], lines: [] };
  for (const r of results) {
    if (r.ok) continue;
    const detail = `${r.summary}; fix: ${r.fix ?? 'see the doctor'}`;
    out.lines.push(`doctor ${r.id} FAILED: ${detail}`);
    if (r.reason === null) continue;
    out.alerts.push({ reason: r.reason, severity: 'WARN', summary: `doctor ${r.id}: ${detail}` });
    if (LASTING_REASONS.has(r.reason)) addNotes(out.lasting, [{ reason: r.reason, detail }]);
  }
  return out;
}
