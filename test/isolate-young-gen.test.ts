/**
 * The launchers cap the main isolate's young generation with `--max-semi-space-size=1`
 * (scripts/runtime-env.cjs). V8 applies that process-wide flag to isolates created later as well,
 * over a Worker's resourceLimits; the worker host clears it first, so the collector worker keeps
 * its own 8 MB young generation. Measured as the largest new space each isolate reaches while it
 * allocates short-lived objects with a surviving window (which makes V8 grow the new space).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WORKER_RESOURCE_LIMITS } from '../src/ipc/host';
import { REPO_ROOT } from './fixtures/paths';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- the launchers' CommonJS helper, as test/windows.test.ts reads it
const { MAIN_SEMI_SPACE, withRuntimeEnv } = require('../scripts/runtime-env.cjs') as {
  MAIN_SEMI_SPACE: string;
  withRuntimeEnv: (env: NodeJS.ProcessEnv) => NodeJS.ProcessEnv;
};

const MB = 1024 * 1024;

/** Largest new space (MB) of the main isolate and of one worker started with the collector's limits, in a child started with the launchers' NODE_OPTIONS. */
function newSpaces(clearFirst: boolean): { main: number; worker: number } {
  const grow = `
    const v8 = require('node:v8');
    const keep = []; let max = 0;
    for (let i = 0; i < 400000; i++) {
      keep.push({ i, a: [i, i] });
      if (keep.length > 40000) keep.splice(0, 8000);
      if (i % 64 !== 0) continue;
      const s = v8.getHeapSpaceStatistics().find((x) => x.space_name === 'new_space');
      if (s.space_size > max) max = s.space_size;
    }`;
  const script = `
    const { Worker } = require('node:worker_threads');
    const host = require(${JSON.stringify(join(REPO_ROOT, 'src', 'ipc', 'host.ts'))});
    if (${clearFirst}) host.workerYoungGenerationFromLimits();
    const w = new Worker(${JSON.stringify(`${grow}; require('node:worker_threads').parentPort.postMessage(max);`)}, { eval: true, resourceLimits: { ...host.WORKER_RESOURCE_LIMITS } });
    w.once('message', (worker) => { ${grow}; process.stdout.write(JSON.stringify({ main: max, worker })); process.exit(0); });
  `;
  const out = execFileSync(process.execPath, ['-r', join(REPO_ROOT, 'test', 'fixtures', 'ts-register.cjs'), '-e', script], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: {
      ...withRuntimeEnv({ ...process.env, NODE_OPTIONS: '' }),
      PP_TS_CACHE: process.env.PP_TS_CACHE ?? join(REPO_ROOT, 'node_modules', '.cache', 'pp-ts'),
    },
    timeout: 120_000,
  });
  const r = JSON.parse(out) as { main: number; worker: number };
  return { main: r.main / MB, worker: r.worker / MB };
}

describe('young generation of each isolate under the launchers’ NODE_OPTIONS', () => {
  it(`main isolate capped by ${MAIN_SEMI_SPACE}; the collector worker keeps its ${WORKER_RESOURCE_LIMITS.maxYoungGenerationSizeMb} MB`, () => {
    const cleared = newSpaces(true);
    expect(cleared.main).toBeLessThanOrEqual(2);
    expect(cleared.worker).toBe(WORKER_RESOURCE_LIMITS.maxYoungGenerationSizeMb);
    // Without the host's clearing, the flag wins over the worker's resourceLimits: what the host prevents.
    expect(newSpaces(false).worker).toBeLessThanOrEqual(2);
  }, 150_000);
});
