/**
 * What each thread loads before it is asked for anything. A package's code and sources stay in its
 * V8 heap for the life of the process (pg + ioredis ≈ 4.7 MB, measured with `require` + `gc()`), so a
 * client the default run never uses must not be reached by a static import. The sink clients were
 * (the collector worker imported one helper from the sink hub) until this test.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './fixtures/paths';

/** node_modules may be a link to a shared install (a git worktree): its files then load from the link's target. */
const NODE_MODULES = realpathSync(join(REPO_ROOT, 'node_modules'));

/** The packages under node_modules that `entry` loads at module evaluation (its `main()` may throw outside its thread: it is caught), and their files. */
function loadedBy(entry: string): { packages: string[]; files: string[] } {
  const script = `
    try { require(${JSON.stringify(entry)}); } catch {}
    const pkgs = new Set();
    const files = [];
    for (const f of Object.keys(require.cache)) {
      if (f.includes('node_modules')) files.push(f.slice(f.lastIndexOf('node_modules') + 13).replace(/\\\\/g, '/'));
      const m = /node_modules[\\\\/]((?:@[^\\\\/]+[\\\\/])?[^\\\\/]+)/.exec(f.slice(f.indexOf(${JSON.stringify(REPO_ROOT)}) + 1));
      if (m && (f.startsWith(${JSON.stringify(REPO_ROOT)}) || f.startsWith(${JSON.stringify(NODE_MODULES)}))) pkgs.add(m[1].replace(/\\\\/g, '/'));
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

  const haveQt = existsSync(join(REPO_ROOT, 'node_modules', '@nodegui', 'nodegui', 'build', 'Release', 'nodegui_core.node'));
  it.skipIf(!haveQt)(
    'the window loads NodeGui without its style-sheet helpers (postcss, cuid2) until one is called; then they work as before',
    () => {
      const helpers = `Object.keys(require.cache).filter((f) => /[\\\\/]node_modules[\\\\/](postcss|@paralleldrive|bignumber|@noble)[\\\\/]/.test(f)).length`;
      const script = `
      const { deferNodeGuiStyleSheetModules } = require(${JSON.stringify(join(REPO_ROOT, 'src', 'widgets', 'nodegui-lazy-css.ts'))});
      const deferred = deferNodeGuiStyleSheetModules();
      const ng = require('@nodegui/nodegui');
      const before = ${helpers};
      const w = new ng.QWidget();
      w.setInlineStyle('color: red; flex: 1;');
      const inline = w.styleSheet().replace(/#\\w+/, '#id');
      w.setStyleSheet('QLabel { color: blue; }');
      process.stdout.write(JSON.stringify({ deferred, before, after: ${helpers}, inline, sheet: w.styleSheet() }));
      process.exit(0);
    `;
      const out = execFileSync(process.execPath, ['-r', join(REPO_ROOT, 'test', 'fixtures', 'ts-register.cjs'), '-e', script], {
        cwd: REPO_ROOT,
        encoding: 'utf8',
        env: { ...process.env, QT_QPA_PLATFORM: 'offscreen', PP_TS_CACHE: process.env.PP_TS_CACHE ?? join(REPO_ROOT, 'node_modules', '.cache', 'pp-ts') },
        timeout: 120_000,
      });
      const r = JSON.parse(out) as { deferred: string[]; before: number; after: number; inline: string; sheet: string };
      expect(r.deferred).toEqual(['postcss', 'postcss-nodegui-autoprefixer', '@paralleldrive/cuid2']);
      // Only the stand-ins themselves are in the module cache (under the real entry files' names), none of the modules behind them.
      expect(r.before, 'style-sheet helpers loaded with NodeGui').toBeLessThanOrEqual(r.deferred.length);
      // NodeGui's own passes, unchanged: the flexbox prefixer (flex → qproperty-yFlex) and a cuid2 object name.
      expect(r.inline.replace(/\s+/g, ' ').trim()).toBe('#id { color: red; qproperty-yFlex: 1; }');
      expect(r.sheet).toBe('QLabel { color: blue; }');
      expect(r.after).toBeGreaterThan(10);
    },
    150_000,
  );
});
