/**
 * The collector's stage machine (SPEC §12.1), pure: given the current stage and what just
 * happened, the next stage and why, or null when the stage stays. Startup walks BOOT →
 * SYMBOL_SELECT → CONNECT_STREAMS → WARMUP; commits move WARMUP → OBSERVE once every baseline is
 * warm, and a health change moves OBSERVE/WARMUP ⇄ DEGRADED; a stop ends in SHUTDOWN from anywhere.
 */
import type { HealthState, ReasonCode, StageName } from '../core/contracts/vocabulary';

export type StageInput =
  /** `doctor`: the boot checks run first (config doctorAtBoot). */
  | { kind: 'start'; doctor?: boolean }
  | { kind: 'doctor_done'; failed: number }
  | { kind: 'symbols_selected'; symbols: number }
  | { kind: 'streams_started' }
  /** A commit: the health verdict, whether it differs from the last one, and whether every baseline is warm. */
  | { kind: 'commit'; health: HealthState; reasons: readonly ReasonCode[]; healthChanged: boolean; allWarm: boolean }
  | { kind: 'stop' };

export interface StageChange {
  stage: StageName;
  detail: string;
}

export function nextStage(stage: StageName, input: StageInput): StageChange | null {
  if (stage === 'SHUTDOWN') return null;
  switch (input.kind) {
    case 'start':
      if (stage !== 'BOOT') return null;
      return input.doctor
        ? { stage: 'DOCTOR_CHECKS', detail: 'WS routes, REST, clock, disks and folders (at most 5 s)' }
        : { stage: 'SYMBOL_SELECT', detail: 'fetching exchangeInfo and the 24h ticker' };
    case 'doctor_done':
      return stage === 'DOCTOR_CHECKS'
        ? {
            stage: 'SYMBOL_SELECT',
            detail: `fetching exchangeInfo and the 24h ticker (doctor: ${input.failed === 0 ? 'all checks passed' : `${input.failed} failed, see above`})`,
          }
        : null;
    case 'symbols_selected':
      return stage === 'SYMBOL_SELECT' ? { stage: 'CONNECT_STREAMS', detail: `${input.symbols} symbols` } : null;
    case 'streams_started':
      return stage === 'CONNECT_STREAMS' ? { stage: 'WARMUP', detail: 'baselines need 60 non-empty 1 s windows per symbol' } : null;
    case 'stop':
      return { stage: 'SHUTDOWN', detail: 'stop requested' };
    case 'commit':
      // Only a change of health moves in or out of DEGRADED, so one verdict is acted on once.
      if (input.healthChanged) {
        if (input.health === 'DEGRADED' && (stage === 'OBSERVE' || stage === 'WARMUP')) return { stage: 'DEGRADED', detail: input.reasons.join(', ') };
        if (input.health === 'OK' && stage === 'DEGRADED') return { stage: input.allWarm ? 'OBSERVE' : 'WARMUP', detail: 'recovered' };
      }
      return stage === 'WARMUP' && input.allWarm ? { stage: 'OBSERVE', detail: 'all baselines warm' } : null;
  }
}
