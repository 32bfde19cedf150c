/**
 * What each thread loads before it is asked for anything. A package's code and sources stay in its
 * V8 heap for the life of the process (pg + ioredis ≈ 4.7 MB, measured with `require` + `gc()`), so a
 * client the default run never uses must not be reached by a static import. The sink clients were
 * (the collector worker imported one helper from the sink hub) until this test.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './fixtures/paths';

/** The packages under node_modules that `entry` loads at module evaluation (its `main()` may throw outside its thread: it is caught), and their files. */
function loadedBy(entry: string): { packages: string[]; files: string[] } {
  const script = `
    try { require(${JSON.stringify(entry)}); } catch {}
    const pkgs = new Set();
    const files = [];
    for (const f of Object.keys(require.cache)) {
      if (f.includes('node_modules')) files.push(f.slice(f.lastIndexOf('node_modules') + 13).replace(/\\\\/g, '/'));
      const m = /node_modules[\\\\/]((?:@[^\\\\/]+[\\\\/])?[^\\\\/]+)/.exec(f.slice(f.indexOf(${JSON.stringify(REPO_ROOT)}) + 1));
      if (m && f.startsWith(${JSON.stringify(REPO_ROOT)})) pkgs.add(m[1].replace(/\\\\/g, '/'));
    }
    process.stdout.write(JSON.stringify({ packages: [...pkgs].sort(), files }));
  `;
  const out = execFileSync(process.execPath, ['-r', join(REPO_ROOT, 'test', 'fixtures', 'ts-register.cjs'), '-e', script], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { ...process.env, PP_TS_CACHE: process.env.PP_TS_CACHE ?? join(REPO_ROOT, 'node_modules', '.cache', 'pp-ts') },
    timeout: 120_000,
  });
  return JSON.parse(out) as { packages: string[]; files: string[] };
}

describe('modules loaded at start', () => {
  it('the collector worker loads no sink client (pg, ioredis), no Qt, no WebAssembly SQLite until asked', () => {
    const { packages: pkgs, files } = loadedBy(join(REPO_ROOT, 'src', 'app', 'worker.ts'));
    // It does load what every run uses: otherwise this test would pass on a script that loaded nothing.
    expect(pkgs).toEqual(expect.arrayContaining(['zod', 'ws', 'undici', 'pino']));
    for (const p of ['pg', 'ioredis', '@nodegui/nodegui', 'node-sqlite3-wasm']) expect(pkgs, `${p} is loaded by the worker at start`).not.toContain(p);
    // undici's Agent and request API only (src/collector/undici-request.ts), not its index with fetch and WebSocket (3 MB more).
    expect(files).toContain('undici/lib/dispatcher/agent.js');
    expect(files).not.toContain('undici/index.js');
    expect(files.filter((f) => f.startsWith('undici/lib/web/'))).toEqual([]);
  }, 150_000);
});
