/**
 * The real collector worker with a crash injected (issue 9 item 2): one uncaught exception thrown
 * inside it once its streams run (the first `stage WARMUP|OBSERVE` console line), the path any bug
 * in a timer or socket callback of the collector takes. Used by dead-worker and worker-restart.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Snapshot, SnapshotSchema } from '../src/core/contracts/snapshot';
import { REPO_ROOT } from './fixtures/paths';

export const readSnapshot = (debugDir: string): Snapshot => SnapshotSchema.parse(JSON.parse(readFileSync(join(debugDir, 'latest_snapshot.json'), 'utf8')));

/**
 * Writes the wrapper into `dir` and returns its path (a WorkerHost's `workerPath`). Workers whose
 * restart count (workerData.restart.count, 0 for the first) is below `crashUntil` crash.
 */
export function crashingWorker(dir: string, crashUntil = 1): string {
  const wrapper = join(dir, 'crashing-worker.cjs');
  writeFileSync(
    wrapper,
    `const { parentPort, workerData } = require('node:worker_threads');
const post = parentPort.postMessage.bind(parentPort);
let armed = (workerData.restart ? workerData.restart.count : 0) < ${crashUntil};
parentPort.postMessage = (m) => {
  post(m);
  if (armed && m && m.type === 'console' && /stage (WARMUP|OBSERVE)/.test(m.line)) {
    armed = false;
    setImmediate(() => { throw new Error('boom: injected by the test'); });
  }
};
require(${JSON.stringify(join(REPO_ROOT, 'dist', 'worker.js'))});
`,
  );
  return wrapper;
}
