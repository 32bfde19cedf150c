/**
 * Where B's time goes on trade frames (issue 15 item 3): one variant run again and again on the
 * real capture's trade frames, nothing else, so a V8 CPU profile of the process is a profile of that
 * variant alone. Run it under `--cpu-prof`, then summarise the profile by function:
 *
 *   node --single-threaded --cpu-prof --cpu-prof-dir=/tmp/pp-prof dist/bench.js --profile-child --variant=B --runs=40
 *   node dist/bench.js --profile-summary /tmp/pp-prof/<file>.cpuprofile
 *
 * The summary gives each function's self time as a share of the samples, and the inclusive time of
 * the pipeline's stages (normalize, engine ingest, commit), which is what the README quotes.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { argValue } from './child';
import { framesOfKind, loadDataset } from './data';
import { processCpuNs } from './cpu-clock';
import { checksumB, runB, runNormalize, type PipelineRun } from './pipelines';
import { median } from './stats';

const VARIANTS = ['B', 'B0', 'N'] as const;

export async function runProfileChild(root: string, argv: readonly string[]): Promise<void> {
  const variant = argValue(argv, 'variant') ?? 'B';
  if (!(VARIANTS as readonly string[]).includes(variant)) throw new Error(`--variant=${variant}: use one of ${VARIANTS.join(', ')}`);
  const runs = Number(argValue(argv, 'runs') ?? '40');
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs=${argValue(argv, 'runs') ?? ''}: a positive integer`);
  const ds = await loadDataset(root, argv.includes('--fixture'));
  const trades = framesOfKind(ds, 'trade');
  // Like the throughput section: the previous run stays referenced (a live engine is never garbage).
  let previous: PipelineRun | null = null;
  let sum = 0;
  const cpuMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const c0 = processCpuNs();
    if (variant === 'N') sum += runNormalize(trades);
    else {
      previous = runB(trades, ds.symbols, variant === 'B0' ? null : undefined);
      sum += checksumB(previous);
    }
    cpuMs.push((processCpuNs() - c0) / 1e6);
  }
  const later = cpuMs.slice(Math.min(5, runs - 1));
  process.stderr.write(
    `profile: ${runs} runs of ${variant} on ${trades.length} trade frames, CPU ms per run after the first ${runs - later.length}: median ${median(later).toFixed(1)}, min ${Math.min(...later).toFixed(1)} (checksum ${sum}, ${previous?.commits ?? 0} commits a run)\n`,
  );
}

const ProfileSchema = z.object({
  nodes: z.array(
    z.object({
      id: z.number(),
      callFrame: z.object({ functionName: z.string(), lineNumber: z.number() }),
      children: z.array(z.number()).optional(),
    }),
  ),
  samples: z.array(z.number()),
  timeDeltas: z.array(z.number()),
});

type ProfileNode = z.infer<typeof ProfileSchema>['nodes'][number];

/** The stages whose inclusive time the summary reports (function names as the bundle keeps them). */
const STAGES = ['normalizeFrame', 'ingestTrade', 'closeWindow', 'commit', 'recordTradeRow', 'acceptTradeId', 'addTrade', 'deepFreeze'];

export function summariseProfile(file: string, top = 25): string {
  const p = ProfileSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
  const byId = new Map<number, ProfileNode>(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const d = p.timeDeltas[i] ?? 0;
    self.set(id, (self.get(id) ?? 0) + d);
    total += d;
  });
  const inclusive = new Map<number, number>();
  const incl = (n: ProfileNode): number => {
    const hit = inclusive.get(n.id);
    if (hit !== undefined) return hit;
    let t = self.get(n.id) ?? 0;
    for (const c of n.children ?? []) t += incl(byId.get(c) as ProfileNode);
    inclusive.set(n.id, t);
    return t;
  };
  const selfByName = new Map<string, number>();
  for (const n of p.nodes) {
    const k = n.callFrame.functionName || '(anonymous)';
    selfByName.set(k, (selfByName.get(k) ?? 0) + (self.get(n.id) ?? 0));
  }
  // A stage's time is counted once even when it recurses (outermost frames only).
  const stageTime = new Map<string, number>();
  const walk = (n: ProfileNode, open: ReadonlySet<string>): void => {
    const name = n.callFrame.functionName;
    let inside = open;
    if (STAGES.includes(name) && !open.has(name)) {
      stageTime.set(name, (stageTime.get(name) ?? 0) + incl(n));
      inside = new Set([...open, name]);
    }
    for (const c of n.children ?? []) walk(byId.get(c) as ProfileNode, inside);
  };
  const root = p.nodes[0];
  if (root !== undefined) walk(root, new Set());
  const pct = (t: number): string => `${((100 * t) / total).toFixed(1).padStart(5)} %`;
  const lines = [`${(total / 1e6).toFixed(2)} s of samples in ${file}`, '', 'stage (inclusive):'];
  for (const s of STAGES) lines.push(`  ${pct(stageTime.get(s) ?? 0)}  ${s}`);
  lines.push('', `top ${top} functions (self):`);
  for (const [k, t] of [...selfByName].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${pct(t)}  ${k}`);
  return lines.join('\n');
}
