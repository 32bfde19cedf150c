/**
 * CPU time instead of wall time, so a figure does not depend on how often other processes took
 * the core away. Node 20 has no per-thread CPU clock (`process.threadCpuUsage` arrived in Node
 * 23.9), so the throughput section runs in a child process started with V8's `--single-threaded`
 * (no concurrent compiler or GC helper threads): there the process's CPU time (getrusage, µs
 * resolution) is the CPU time of the one thread that runs the variant. Linux's per-thread
 * `/proc/thread-self/schedstat` confirms it: it is exact for a thread but only advances at the
 * scheduler's ticks and switches (steps of up to a few ms), too coarse for one run but a faithful
 * check over the whole section of how much of the process's CPU that thread spent.
 */
import { closeSync, openSync, readSync } from 'node:fs';

/** CPU time of this process in nanoseconds (user + system). */
export function processCpuNs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

/** A reader of the calling thread's own CPU time in ns (coarse, see above), or null off Linux. */
export interface ThreadCpuReader {
  read: () => number;
  close: () => void;
}

/** A /proc file kept open for rereading at offset 0 (procfs makes its text anew on every read), or null where there is none. */
export function openProcFile(path: string): number | null {
  try {
    return openSync(path, 'r');
  } catch {
    return null;
  }
}

export function openThreadCpu(): ThreadCpuReader | null {
  const fd = openProcFile('/proc/thread-self/schedstat');
  if (fd === null) return null;
  const buf = Buffer.alloc(96);
  return {
    // procfs regenerates the text on every read at offset 0; the first field is sum_exec_runtime in ns.
    read: () => {
      const n = readSync(fd, buf, 0, buf.length, 0);
      const text = buf.toString('latin1', 0, n);
      return Number(text.slice(0, text.indexOf(' ')));
    },
    close: () => closeSync(fd),
  };
}
