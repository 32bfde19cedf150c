/**
 * A full GC between timed runs, so one run's garbage is not collected on the next one's clock.
 * `npm run bench` starts node without --expose-gc; the flag can still be set at run time and the
 * function fetched from a fresh context (a documented V8 idiom).
 */
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gcFn: (() => void) | null | undefined;

export function fullGc(): void {
  if (gcFn === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      const f: unknown = runInNewContext('gc');
      gcFn = typeof f === 'function' ? () => (f as () => void)() : null;
    } catch {
      gcFn = null;
    }
  }
  gcFn?.();
}

export function gcAvailable(): boolean {
  fullGc();
  return gcFn !== null;
}

export interface GcPauses {
  count: number;
  total_ms: number;
  max_ms: number;
}

/**
 * Records garbage-collection pauses (not forced ones) from now until `stop()`. Node delivers GC entries
 * asynchronously, so `stop()` yields briefly before reading them; timed code stays synchronous.
 */
export function watchGc(): { stop: () => Promise<GcPauses> } {
  const durations: number[] = [];
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      // Our own fullGc() between timed blocks is forced and never on a timed clock: leave it out.
      const detail: unknown = Reflect.get(e, 'detail'); // NodeGCPerformanceDetail; not on the declared entry type
      const flags = typeof detail === 'object' && detail !== null && 'flags' in detail && typeof detail.flags === 'number' ? detail.flags : 0;
      if ((flags & constants.NODE_PERFORMANCE_GC_FLAGS_FORCED) === 0) durations.push(e.duration);
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  return {
    stop: async () => {
      await new Promise((r) => setTimeout(r, 50));
      obs.disconnect();
      const total = durations.reduce((s, d) => s + d, 0);
      return {
        count: durations.length,
        total_ms: Number(total.toFixed(2)),
        max_ms: Number((durations.length > 0 ? Math.max(...durations) : 0).toFixed(2)),
      };
    },
  };
}
