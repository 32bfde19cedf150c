/**
 * Vitest global setup: every temp folder the tests (and the processes they start) make goes under
 * one folder per `vitest run`, removed when the run ends. The tests make ~50 folders a run
 * (`mkdtemp` in the rigs, captures, stores, exports) and most read their files after the code under
 * test stops, so each test cannot remove its own; without this, every `npm test` left them in /tmp.
 * `PP_KEEP_TEST_TMP=1` keeps the folder (its path is printed) to look at what a failing test wrote.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultServicesDir } from './services-env';

export default function setup(): () => void {
  const base = tmpdir();
  // Found where scripts/services.sh writes it, not under the per-run folder (./services-env).
  process.env.PP_SERVICES_DIR ??= defaultServicesDir(base);
  const root = mkdtempSync(join(base, 'pp-test-'));
  // mkdtemp makes it 0700; the tests' servers run as other users (PostgreSQL's initdb as
  // `postgres`) and must get through it to their own folders, as they do through /tmp.
  chmodSync(root, 0o711);
  // os.tmpdir() reads TMPDIR at each call, here and in the test workers and children, which inherit it.
  process.env.TMPDIR = root;
  return () => {
    if (process.env.PP_KEEP_TEST_TMP === '1') console.log(`test temp files kept in ${root}`);
    else rmSync(root, { recursive: true, force: true });
  };
}
