/**
 * The collector's stage machine (SPEC §12.1), pure: given the current stage and what just
 * happened, the next stage and why, or null when the stage stays. Startup walks BOOT →
 * SYMBOL_SELECT → CONNECT_STREAMS → WARMUP, or with a warm start (SPEC §20) CONNECT_STREAMS →
 * WARM_START → OBSERVE (WARMUP when a symbol starts cold); commits move WARMUP → OBSERVE once every
 * baseline is warm, and a health change moves OBSERVE/WARMUP ⇄ DEGRADED; a stop ends in SHUTDOWN
 * from anywhere.
 */
import type { HealthState, ReasonCode, StageName } from '../core/contracts/vocabulary';

export type StageInput =
  /** `doctor`: the boot checks run first (config doctorAtBoot). */
  | { kind: 'start'; doctor?: boolean }
  | { kind: 'doctor_done'; failed: number }
  | { kind: 'symbols_selected'; symbols: number }
  /** The streams are started; `warmStart` when a backfill runs now (live events are held until it ends). */
  | { kind: 'streams_started'; warmStart?: { symbols: number; spanMs: number } }
  /** The warm start's end marker went in: how many symbols it warmed, and whether every baseline is warm. */
  | { kind: 'warm_start_done'; backfilled: number; symbols: number; tookMs: number; allWarm: boolean; health: HealthState }
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
      if (stage !== 'CONNECT_STREAMS') return null;
      if (input.warmStart === undefined) return { stage: 'WARMUP', detail: 'baselines need 60 non-empty 1 s windows per symbol' };
      return {
        stage: 'WARM_START',
        detail: `backfilling the last ${minutes(input.warmStart.spanMs)} of aggTrades for ${input.warmStart.symbols} symbols; live events wait until it ends`,
      };
    case 'warm_start_done': {
      if (stage !== 'WARM_START') return null;
      const cold = input.symbols - input.backfilled;
      const took = `${(input.tookMs / 1000).toFixed(1)} s`;
      const done = `warm start done in ${took}: ${input.backfilled} of ${input.symbols} symbols backfilled`;
      // A health change during the warm start did not move the stage; the current verdict does now.
      if (input.health === 'DEGRADED') return { stage: 'DEGRADED', detail: `${done}; health is DEGRADED` };
      if (input.allWarm) return { stage: 'OBSERVE', detail: `${done}, all baselines warm` };
      return { stage: 'WARMUP', detail: `${done}${cold > 0 ? `, ${cold} start cold (WARM_START_FAILED)` : ''}; the rest warm from 60 live windows` };
    }
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

function minutes(ms: number): string {
  const m = ms / 60_000;
  return Number.isInteger(m) ? `${m} min` : `${Math.round(ms / 1000)} s`;
}
