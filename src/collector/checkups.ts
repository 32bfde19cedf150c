/**
 * The doctor inside the collector (issue 10 item 9; seed 002 DOCTOR_CHECKS): the boot stage's
 * checks and the periodic disk/WAL reading that fills the snapshot's storage section. Both fail
 * soft: lasting findings are health reasons listed without degrading (detection itself is
 * unaffected), and each new finding is an alert (the alert engine's cooldown does the rest).
 * Every effect on the world goes through the injected DoctorIo, as in `peak-pressure doctor`.
 */
import type { Condition } from '../alerts/engine';
import type { CheckResult } from '../core/contracts/doctor';
import type { Storage } from '../core/contracts/storage';
import { type DoctorIo, type DoctorTargets, readDisks } from '../doctor/checks';
import { addNotes, DiskWatch } from '../doctor/disk';
import { bootDoctor, doctorFindings, type HealthNote } from '../doctor/findings';

/** Machine time between disk readings: growth is judged over ten minutes or more, a low disk within a minute. */
export const DISK_CHECK_EVERY_MS = 60_000;

/** The boot checks of the disks: DiskWatch reads and alerts them from the first reading on, so the boot pass would only say the same twice. */
const DISK_CHECKS: ReadonlySet<CheckResult['id']> = new Set<CheckResult['id']>(['disk-store', 'disk-captures', 'store-wal']);

export interface BootCheckup {
  results: CheckResult[];
  /** One alert condition per failed check with a reason code. */
  alerts: Condition[];
  /** One console line per failed check. */
  lines: string[];
}

export class Checkups {
  private readonly disk: DiskWatch;
  private bootNotes: HealthNote[] = [];
  private diskNotes: HealthNote[] = [];

  constructor(
    private readonly io: DoctorIo,
    private readonly targets: DoctorTargets,
  ) {
    this.disk = new DiskWatch(targets.captureBudgetBytes, targets.limits);
  }

  /** Stage DOCTOR_CHECKS: every check but Qt's, concurrently; never throws. */
  async boot(now: () => number): Promise<BootCheckup> {
    const { results } = await bootDoctor(this.targets, this.io, now);
    const f = doctorFindings(results.filter((r) => !DISK_CHECKS.has(r.id)));
    this.bootNotes = f.lasting;
    return { results, alerts: f.alerts, lines: f.lines };
  }

  /** One disk reading: the snapshot's storage section and an alert per finding new since the last reading. */
  readDisks(nowMs: number): { storage: Storage; alerts: Condition[] } {
    const r = this.disk.update(readDisks(this.io, this.targets, nowMs));
    this.diskNotes = r.lasting;
    // Store and captures low at once is one DISK_LOW alert naming both.
    const fresh = addNotes<HealthNote>(
      [],
      r.fresh.map((f) => ({ reason: f.reason, detail: `${f.summary}; fix: ${f.fix}` })),
    );
    return { storage: r.storage, alerts: fresh.map((n) => ({ reason: n.reason, severity: 'WARN', summary: n.detail })) };
  }

  /** The lasting findings, for the health verdict. */
  notes(): HealthNote[] {
    return addNotes<HealthNote>([], [...this.bootNotes, ...this.diskNotes]);
  }
}
