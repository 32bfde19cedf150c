/**
 * Steal time: time the hypervisor ran something else on the physical core behind one of our
 * virtual cores. The kernel leaves it out of a process's CPU time (its task clock skips it), so
 * it never counts directly; but whatever ran there meanwhile took the core's private caches, so the
 * measured thread pays a refill afterwards, which CPU time does count. On this VM the steal counter
 * moved by ~13 % of a core on a quiet day, and the throughput figures' run-to-run movement is the
 * kind that interference makes (README, the throughput section): the section reads it per sample
 * so a reader can see how much of it each run had.
 *
 * Source: `/proc/stat`, the eighth counter of a `cpuN` line, in USER_HZ ticks (10 ms on Linux):
 * too coarse for one 100-ms sample, enough over a section's hundreds of samples.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, readFileSync, readSync } from 'node:fs';
import { openProcFile } from './cpu-clock';

export interface StealReader {
  /** Steal time of the core in ms since boot. */
  read: () => number;
  /** The core read (`cpuN`), or 'all cores' (their mean) when the process may run on several. */
  core: string;
  close: () => void;
}

/** The one core this process may run on (taskset), or null. */
function pinnedCore(): number | null {
  try {
    const status = readFileSync('/proc/self/status', 'latin1');
    const list = /^Cpus_allowed_list:\s*(\S+)$/m.exec(status)?.[1];
    return list !== undefined && /^\d+$/.test(list) ? Number(list) : null;
  } catch {
    return null;
  }
}

function ticksPerSecond(): number {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'latin1' }).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
}

/** The steal counter of the core this process runs on, or null where there is no /proc/stat. */
export function openSteal(): StealReader | null {
  const fd = openProcFile('/proc/stat');
  if (fd === null) return null;
  const cpu = pinnedCore();
  const prefix = cpu === null ? 'cpu ' : `cpu${cpu} `;
  const msPerTick = 1000 / ticksPerSecond();
  const cores =
    cpu === null
      ? Math.max(
          1,
          readFileSync('/proc/stat', 'latin1')
            .split('\n')
            .filter((l) => /^cpu\d+ /.test(l)).length,
        )
      : 1;
  const buf = Buffer.alloc(4096);
  return {
    core: cpu === null ? 'all cores' : `cpu${cpu}`,
    read: () => {
      // procfs regenerates the text at offset 0; the cpu lines come first.
      const text = buf.toString('latin1', 0, readSync(fd, buf, 0, buf.length, 0));
      const at = text.indexOf(prefix);
      if (at < 0) return 0;
      const fields = text
        .slice(at + prefix.length, text.indexOf('\n', at))
        .trim()
        .split(/\s+/);
      return (Number(fields[7] ?? 0) * msPerTick) / cores;
    },
    close: () => closeSync(fd),
  };
}

/** Steal over one span of a run, per core: started when the span starts, read once at its end. */
export interface StealSpan {
  /** The span's wall time, and the steal ms per core with its share of that time (null where there is no counter). */
  end: () => { wallMs: number; ms: number | null; share: number | null };
}

export function startStealSpan(): StealSpan {
  const steal = openSteal();
  const s0 = steal?.read() ?? 0;
  const t0 = performance.now();
  return {
    end: () => {
      const wallMs = performance.now() - t0;
      if (steal === null) return { wallMs, ms: null, share: null };
      const ms = steal.read() - s0;
      steal.close();
      return { wallMs, ms, share: wallMs > 0 ? ms / wallMs : 0 };
    },
  };
}
