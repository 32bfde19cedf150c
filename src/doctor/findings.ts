/**
 * The doctor's checks inside a running collector (stage DOCTOR_CHECKS at boot): failures fail
 * soft into health reasons and alerts, never into an exit. Pure: results in, reasons, alert
 * conditions and console lines out. (The periodic disk/WAL check is disk.ts DiskWatch.)
 */
import type { ReasonCode } from '../core/contracts/vocabulary';
import type { Condition } from '../alerts/engine';
import { type CheckResult, type DoctorIo, type DoctorTargets, runDoctor } from './checks';
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

/**
 * Stage DOCTOR_CHECKS: every check but Qt's (the window, if any, is already up), concurrently, so
 * the stage takes at most the longest probe (5 s when a route is silent). Never throws: a probe
 * that breaks unexpectedly is one more failed check.
 */
export async function bootDoctor(t: DoctorTargets, io: DoctorIo, now: () => number): Promise<{ results: CheckResult[]; findings: DoctorFindings }> {
  let results: CheckResult[];
  try {
    results = await runDoctor({ ...t, window: false }, io, now);
  } catch (e) {
    results = [
      {
        id: 'rest',
        ok: false,
        summary: `the doctor's checks broke: ${e instanceof Error ? e.message : String(e)}`,
        fix: 'run peak-pressure doctor for details',
        reason: null,
      },
    ];
  }
  return { results, findings: doctorFindings(results) };
}
