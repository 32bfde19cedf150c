/**
 * The bundles are ASCII, so V8 keeps each one's source at one byte a character in the heap that
 * loaded it (scripts/webpack/ascii-only.cjs). The escapes must not change what the code does, and
 * the source maps must still point at the right columns.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { SourceMap, type SourceMapPayload } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from './fixtures/paths';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- the build's CommonJS helper, as webpack.config.js loads it
const { AsciiOnlyPlugin, nonAsciiEscapes } = require('../scripts/webpack/ascii-only.cjs') as {
  AsciiOnlyPlugin: new () => object;
  nonAsciiEscapes: (text: string, where?: string) => [number, number, string][];
};

/** Non-ASCII where a bundle has it: comments, strings, templates, regular expressions (with and without `u`), an identifier, an astral character. */
const SAMPLE = [
  '// target ≥ 16 ms — one frame',
  '/* “quoted” × 3 */',
  'const café = "p99 ≥ 16 ms — missed";',
  'const t = `${café} · ×${2}`;',
  'const dash = /^[—–-]+$/.test("—–-");',
  'const astral = "rocket 🚀";',
  'const ur = /^.$/u.test("🚀");',
  'const nu = /^..$/.test("🚀");',
  "const len = 'é'.length + '🚀'.length;",
  'const marker = "√"; const AFTER = 1;',
  'module.exports = { café, t, dash, astral, ur, nu, len, marker, AFTER };',
].join('\n');

function applyEscapes(text: string): string {
  let out = '';
  let at = 0;
  for (const [start, end, rep] of nonAsciiEscapes(text)) {
    out += text.slice(at, start) + rep;
    at = end;
  }
  return out + text.slice(at);
}

function evaluate(code: string): unknown {
  const module = { exports: {} as unknown };
  runInNewContext(code, { module });
  return module.exports;
}

const isAscii = (s: string): boolean => [...s].every((c) => (c.codePointAt(0) ?? 0) <= 0x7f);

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('ASCII bundles', () => {
  it('escaping every non-ASCII unit leaves the code doing the same, in ASCII', () => {
    expect(isAscii(SAMPLE)).toBe(false);
    const escaped = applyEscapes(SAMPLE);
    expect(isAscii(escaped)).toBe(true);
    const before = evaluate(SAMPLE);
    expect(evaluate(escaped)).toEqual(before);
    expect(before).toMatchObject({ café: 'p99 ≥ 16 ms — missed', dash: true, ur: true, nu: true, len: 3 });
  });

  it('refuses a backslash before a non-ASCII character, whose escape would change the string', () => {
    expect(() => nonAsciiEscapes('const a = 1;\nconst s = "\\—";', 'x.js')).toThrow(/x\.js line 2 .*backslash/);
    expect(nonAsciiEscapes('const s = "plain";')).toEqual([]);
  });

  it('a webpack build with the plugin writes ASCII, runs the same and its source map still finds the original column', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- webpack is the build's own tool
    const webpack = require('webpack') as typeof import('webpack');
    const dir = mkdtempSync(join(tmpdir(), 'pp-ascii-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'entry.js'), SAMPLE);
    const stats = await new Promise<import('webpack').Stats>((resolve, reject) => {
      webpack(
        {
          mode: 'production',
          target: 'node20',
          context: dir,
          entry: './entry.js',
          output: { path: join(dir, 'out'), filename: 'bundle.js', library: { type: 'commonjs2' } },
          optimization: { minimize: false },
          devtool: 'source-map',
          plugins: [new AsciiOnlyPlugin() as import('webpack').WebpackPluginInstance],
        },
        (err, s) => (err || !s ? reject(err ?? new Error('no stats')) : resolve(s)),
      );
    });
    expect(stats.hasErrors(), stats.toString('errors-only')).toBe(false);
    const bundle = readFileSync(join(dir, 'out', 'bundle.js'), 'utf8');
    expect(isAscii(bundle)).toBe(true);
    expect(evaluate(bundle)).toEqual(evaluate(SAMPLE));

    // The statement after the escaped "√" starts a mapping segment at its own column in the bundle
    // (five columns right of where it would be without the escape) and maps back to its column in
    // entry.js; a map left as it was would put that segment five columns early.
    const map = new SourceMap(JSON.parse(readFileSync(join(dir, 'out', 'bundle.js.map'), 'utf8')) as SourceMapPayload);
    const lines = bundle.split('\n');
    const line = lines.findIndex((l) => l.includes('const AFTER = 1'));
    expect(line).toBeGreaterThanOrEqual(0);
    const generatedColumn = (lines[line] as string).indexOf('const AFTER');
    const srcLines = SAMPLE.split('\n');
    const srcLine = srcLines.findIndex((l) => l.includes('const AFTER = 1'));
    expect(map.findEntry(line, generatedColumn)).toMatchObject({
      generatedColumn,
      originalLine: srcLine,
      originalColumn: (srcLines[srcLine] as string).indexOf('const AFTER'),
    });
  });

  it('the built bundles in dist/ are ASCII (npm test builds them first)', () => {
    const dist = join(REPO_ROOT, 'dist');
    if (!existsSync(dist)) return;
    const bundles = readdirSync(dist).filter((f) => f.endsWith('.js'));
    expect(bundles).toContain('worker.js');
    for (const f of bundles) expect(isAscii(readFileSync(join(dist, f), 'utf8')), f).toBe(true);
  });
});
