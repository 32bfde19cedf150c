/**
 * The portable Linux bundle (`npm run package` → release/peak-pressure-<version>-linux-x64/) runs
 * on its own Qt: this runs scripts/check-bundle.sh, which starts it with Debian's Qt hidden in a
 * private mount namespace (or, where unshare is not allowed, checks /proc/<pid>/maps only).
 *
 * Packaging takes a while and CI does not build the bundle, so the test runs only when release/
 * holds a bundle built from the current dist/ (same bytes); otherwise it is skipped with the reason.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const REPO = resolve(__dirname, '..');
const VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
const BUNDLE = join(REPO, 'release', `peak-pressure-${VERSION}-linux-x64`);
const DIST = join(REPO, 'dist');

/** Why the bundle check cannot run here, or null when it can. */
function skipReason(): string | null {
  if (process.platform !== 'linux' || process.arch !== 'x64') return `Linux x64 only (this is ${process.platform}/${process.arch})`;
  if (!existsSync(join(BUNDLE, 'peak-pressure'))) return `no bundle at ${BUNDLE} (build it with: npm run package)`;
  if (!existsSync(DIST)) return 'no dist/ (npm run build)';
  const files = readdirSync(DIST).filter((f) => !f.startsWith('bench.'));
  if (!files.includes('main.js')) return 'dist/ has no main.js (npm run build)';
  const stale = files.filter((f) => {
    const packed = join(BUNDLE, 'app', 'dist', f);
    return !existsSync(packed) || !readFileSync(packed).equals(readFileSync(join(DIST, f)));
  });
  if (stale.length > 0) return `the bundle in release/ was built from another dist/ (differs: ${stale.join(', ')}); rebuild it with: npm run package`;
  return null;
}

const reason = skipReason();
if (reason !== null) {
  // Visible in the test output: this check did not run.
  process.stdout.write(`[package.test] portable bundle check SKIPPED: ${reason}\n`);
}

describe('portable Linux bundle', () => {
  it.skipIf(reason !== null)(
    `runs with its own Qt, node and addon (scripts/check-bundle.sh)${reason === null ? '' : ` — skipped: ${reason}`}`,
    () => {
      const r = spawnSync('bash', [join(REPO, 'scripts', 'check-bundle.sh'), BUNDLE], {
        cwd: REPO,
        encoding: 'utf8',
        timeout: 240_000,
      });
      const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
      expect(r.error, out).toBeUndefined();
      expect(r.status, out).toBe(0);
      expect(out).toContain('RESULT: PASS');
      expect(out).toMatch(/proof used: .+/);
      // Whatever proof ran, the Qt libraries and the platform plugin came from the bundle.
      expect(out).toMatch(/all \d+ mapped libQt6\* are in the bundle's lib\//);
      expect(out).toMatch(/platforms\/libqoffscreen\.so/);
      expect(out).toMatch(/replay from the bundle \(no node on PATH\): exit 0/);
    },
    300_000,
  );
});
