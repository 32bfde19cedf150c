/**
 * The shape every benchmark section shares. A section is a function of the loaded data that
 * returns printable tables, machine-readable figures and target checks; bench.ts runs the
 * registered sections in order and writes them all to bench/results.json. New sections (memory
 * over a day, UI) plug in by adding one entry to the registry in bench.ts.
 */
import type { Dataset } from './data';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface Table {
  title: string;
  columns: string[];
  rows: string[][];
}

/** A stated target and whether this run met it. */
export interface Check {
  name: string;
  value: number;
  target: string;
  met: boolean;
}

export interface SectionResult {
  tables: Table[];
  /** Plain-language reading of the figures, printed under the tables and stored in the JSON. */
  notes: string[];
  checks: Check[];
  data: Json;
}

export interface SectionContext {
  dataset: Dataset;
  /** Fewer repetitions (for a smoke run); the README's figures never come from a quick run. */
  quick: boolean;
  /** --load: the throughput section runs a CPU-bound process beside its measurement. */
  load?: boolean;
  log: (message: string) => void;
  /** The repository root (dist/ lives there; sections that run child processes need it). */
  root: string;
  /** memory-day: exchange hours to cover (--day-hours=N; default 24, 2 with --quick). */
  dayHours?: number;
  /** memory-day: simulator speed (--day-speed=S; default 300). */
  daySpeed?: number;
}

export interface Section {
  id: string;
  title: string;
  run: (ctx: SectionContext) => SectionResult | Promise<SectionResult>;
}
