/**
 * V8 favours memory over speed in this process, for both isolates: the flag is process-wide and
 * the collector worker starts later; it must be set before the worker (and Qt, in the window)
 * allocate. PEAK_PRESSURE_OPTIMIZE_FOR_SIZE=0 trades the memory back for the CPU. Measured figures
 * are in README "Performance" (the window app under Xvfb; the headless day at 100× and 80×).
 */
import { setFlagsFromString } from 'node:v8';

export function favourMemory(env: NodeJS.ProcessEnv = process.env): void {
  if (env.PEAK_PRESSURE_OPTIMIZE_FOR_SIZE !== '0') setFlagsFromString('--optimize-for-size');
}
