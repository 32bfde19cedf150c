/**
 * When the collector records its cumulative counters (COUNTERS_SAMPLED audit records, the daily
 * summary's input) and when a UTC day has ended (its summary is due). Pure: `now` is passed in.
 *
 * A sample every 5 min of clock time, one at the last commit before each UTC midnight (so a day's
 * counters are the difference of two samples at most one commit from its edges) and one at stop.
 */
import type { CountersSample } from '../core/contracts/audit';
import type { Engine } from '../core/engine';
import { utcDay } from '../store/daily-summary';

export const SAMPLE_EVERY_MS = 5 * 60_000;
const DAY_MS = 86_400_000;

export interface SampleDue {
  /** Record a COUNTERS_SAMPLED now. */
  sample: boolean;
  /** A UTC day ended since the last commit: its summary is due (YYYY-MM-DD). */
  dayEnded: string | null;
}

export class SampleSchedule {
  private nextSampleMs: number;
  private day: string;
  /** The midnight already sampled before. */
  private midnightSampled = -1;

  constructor(
    startMs: number,
    private readonly everyMs = SAMPLE_EVERY_MS,
  ) {
    this.nextSampleMs = startMs + everyMs;
    this.day = utcDay(startMs);
  }

  /** At a commit; `stepMs` is the time to the next commit on the same clock. */
  atCommit(nowMs: number, stepMs: number): SampleDue {
    const today = utcDay(nowMs);
    const dayEnded = today !== this.day ? this.day : null;
    this.day = today;
    const midnight = (Math.floor(nowMs / DAY_MS) + 1) * DAY_MS;
    const lastBeforeMidnight = nowMs + stepMs >= midnight && this.midnightSampled !== midnight;
    if (lastBeforeMidnight) this.midnightSampled = midnight;
    const sample = lastBeforeMidnight || nowMs >= this.nextSampleMs;
    if (sample) this.nextSampleMs = nowMs + this.everyMs;
    return { sample, dayEnded };
  }
}

/** The run's cumulative counters now (payload of COUNTERS_SAMPLED). */
export function countersSample(engine: Engine, reconnects: number, oiErrors: number, oiPollIntervalMs: number): CountersSample {
  return {
    per_symbol: Object.fromEntries(engine.detectorsInRankOrder.map((d) => [d.symbol, { ...d.counters }])),
    reconnects,
    oi_errors: oiErrors,
    oi_poll_interval_ms: oiPollIntervalMs,
  };
}
