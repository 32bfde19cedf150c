/**
 * The doctor's verdicts (seed 002 DOCTOR_CHECKS; src/doctor): what `peak-pressure doctor` prints and
 * what a DOCTOR_CHECKED audit record carries when the collector runs the checks at boot.
 */
import { z } from 'zod';
import { ReasonCodeSchema } from './vocabulary';

export const CheckIdSchema = z.enum([
  'ws-market',
  'ws-public',
  'rest',
  'clock',
  'disk-store',
  'disk-captures',
  'store-wal',
  'write-debug',
  'write-captures',
  'write-store',
  'qt',
]);
export type CheckId = z.infer<typeof CheckIdSchema>;

export const CheckResultSchema = z.object({
  id: CheckIdSchema,
  ok: z.boolean(),
  /** What was found, one line with the figures. */
  summary: z.string(),
  /** What to do; null when the check passed. */
  fix: z.string().nullable(),
  /** The health reason a failure shows as when the check runs inside the collector; null: reported only. */
  reason: ReasonCodeSchema.nullable(),
});
export type CheckResult = z.infer<typeof CheckResultSchema>;

/** Payload of a DOCTOR_CHECKED audit record: every result of one run of the checks. */
export const DoctorCheckedSchema = z.object({
  /** `boot`: stage DOCTOR_CHECKS; `periodic`: the disk/WAL/folder re-check during a run. */
  when: z.enum(['boot', 'periodic']),
  results: z.array(CheckResultSchema),
});
export type DoctorChecked = z.infer<typeof DoctorCheckedSchema>;
