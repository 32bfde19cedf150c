/**
 * Config bounds (issue 9 item 3): every duration and size has a minimum and a maximum, a value
 * outside them is refused with a message naming where it came from (file, flag or env variable),
 * and no timer can be set above Node's 2³¹−1 ms (where Node fires it after 1 ms instead:
 * `{"rotateAfterMs":2592000000}` opened 582 WS connections in 12 s).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { configFromValues } from '../src/app/live-options';
import { type Bound, CONFIG_BOUNDS, CollectorConfigSchema, ConfigError, ENV_VARS, humanBound, loadConfig, MAX_TIMER_MS } from '../src/collector/config';
import { REPO_ROOT } from './fixtures/paths';
import { collectorConfig } from '../bench/soak-rig';

const tmp = mkdtempSync(join(tmpdir(), 'pp-bounds-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const FIELDS = Object.entries(CONFIG_BOUNDS) as [string, Bound][];

/** `{a: {b: {c: v}}}` for `a.b.c`, plus what the field needs to be valid beside it. */
function objectFor(path: string, value: unknown): Record<string, unknown> {
  const keys = path.split('.');
  const leaf = keys[keys.length - 1] as string;
  // The total may not be below one part: test it against the smallest part.
  const sibling = leaf === 'maxTotalBytes' ? { maxFileBytes: CONFIG_BOUNDS['capture.maxFileBytes'].min } : {};
  let obj: Record<string, unknown> = keys.length > 1 ? { ...sibling, [leaf]: value } : { [leaf]: value };
  for (let i = keys.length - 2; i >= 0; i--) obj = { [keys[i] as string]: obj };
  return obj;
}

function valueAt(c: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], c);
}

function errorOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('expected a ConfigError');
}

let fileNo = 0;
function configFile(content: unknown): string {
  const p = join(tmp, `c${++fileNo}.json`);
  writeFileSync(p, JSON.stringify(content));
  return p;
}

describe('config bounds: every field', () => {
  it('every number in the schema has a finite minimum and maximum, and is in the bounds table', () => {
    const json = z.toJSONSchema(CollectorConfigSchema, { io: 'input' }) as Record<string, unknown>;
    const numeric: string[] = [];
    const walk = (node: unknown, path: string): void => {
      if (typeof node !== 'object' || node === null) return;
      const n = node as Record<string, unknown>;
      // A `const` is one allowed value (heapProbeIntervalMs: 0 = off), bounded by definition.
      if ((n.type === 'integer' || n.type === 'number') && !('const' in n)) {
        expect(Number.isFinite(n.minimum), `${path} minimum`).toBe(true);
        expect(Number.isFinite(n.maximum), `${path} maximum`).toBe(true);
        numeric.push(path);
      }
      if (n.properties) for (const [k, v] of Object.entries(n.properties as object)) walk(v, path ? `${path}.${k}` : k);
      for (const alt of (n.anyOf as unknown[] | undefined) ?? []) walk(alt, path);
    };
    walk(json, '');
    expect([...new Set(numeric)].sort()).toEqual(FIELDS.map(([k]) => k).sort());
  });

  it('no duration bound lets a timer reach 2³¹−1 ms, and every default lies within its bounds', () => {
    const defaults = CollectorConfigSchema.parse({});
    for (const [path, b] of FIELDS) {
      expect(b.min, path).toBeLessThan(b.max);
      if (b.unit === 'ms') expect(b.max, path).toBeLessThan(MAX_TIMER_MS);
      const d = valueAt(defaults, path) as number;
      expect(d === b.off || (d >= b.min && d <= b.max), `${path} default ${d}`).toBe(true);
    }
  });

  describe.each(FIELDS)('%s', (path, b) => {
    it('accepts the minimum and the maximum (file and flag)', () => {
      for (const v of [b.min, b.max]) {
        expect(valueAt(loadConfig({ file: configFile(objectFor(path, v)) }), path)).toBe(v);
        expect(valueAt(loadConfig({ flags: objectFor(path, v) }), path)).toBe(v);
      }
      if (b.off !== undefined) expect(valueAt(loadConfig({ flags: objectFor(path, b.off) }), path)).toBe(b.off);
    });

    it('refuses one below the minimum, one above the maximum and a fraction, naming the file and the bounds', () => {
      for (const v of [b.min - 1, b.max + 1, b.min + 0.5, -b.max]) {
        if (v === b.off) continue;
        const file = configFile(objectFor(path, v));
        const msg = errorOf(() => loadConfig({ file }));
        expect(msg).toContain(`file ${file}: ${path}: must be a whole number from `);
        expect(msg).toContain(`(${b.min}–${b.max} ${b.unit})`);
        expect(msg).toContain(`(got ${v})`);
        expect(msg.split('\n')).toHaveLength(1);
      }
    });

    it('refuses the same from a flag, naming the flag when one set it', () => {
      const msg = errorOf(() => loadConfig({ flags: objectFor(path, b.max + 1), flagNames: { [path]: '--the-flag' } }));
      expect(msg).toBe(`invalid configuration: --the-flag: ${path}: ${msg.split(`${path}: `)[1] ?? ''}`);
      expect(msg).toContain(`(got ${b.max + 1})`);
    });

    it('refuses a string where a number belongs', () => {
      const msg = errorOf(() => loadConfig({ file: configFile(objectFor(path, String(b.min))) }));
      expect(msg).toContain(`${path}: must be a whole number`);
    });
  });
});

describe('README', () => {
  it('the bounds table in README.md says what the schema enforces', () => {
    const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
    for (const [path, b] of FIELDS) {
      const row = readme.split('\n').find((l) => l.startsWith(`| \`${path}\` |`));
      expect(row, `README row for ${path}`).toBeDefined();
      const cells = (row as string).split('|').map((c) => c.trim());
      expect([cells[3], cells[4]], path).toEqual([humanBound(b.min, b.unit), humanBound(b.max, b.unit)]);
    }
  });
});

describe('config errors name their origin', () => {
  it("the issue's case: rotateAfterMs 30 days from a file", () => {
    const file = configFile({ rotateAfterMs: 2_592_000_000 });
    expect(errorOf(() => loadConfig({ file }))).toBe(
      `invalid config: file ${file}: rotateAfterMs: must be a whole number from 1 s to 24 h (1000–86400000 ms) (got 2592000000); fix the file, or remove the key to use the default`,
    );
  });

  it('env variables are named when the value came from one, with credentials redacted and controls escaped', () => {
    expect(errorOf(() => loadConfig({ env: { [ENV_VARS.wsUrl]: 'http://user:secret@h\x1b[2J' } }))).toBe(
      'invalid configuration: env PEAK_PRESSURE_WS_URL: wsUrl: must be a URL starting with wss: or ws: (got "http://***@h\\u001b[2J")',
    );
    expect(errorOf(() => loadConfig({ env: { [ENV_VARS.logLevel]: 'loud' } }))).toMatch(
      /^invalid configuration: env PEAK_PRESSURE_LOG_LEVEL: logLevel: .*\(got "loud"\)$/,
    );
    // A flag wins over the env variable, and the message follows the value that was used.
    expect(errorOf(() => configFromValues({ 'ws-url': 'ftp://x' }, { [ENV_VARS.wsUrl]: 'ws://ok' }))).toMatch(/^invalid configuration: --ws-url: wsUrl: /);
  });

  it('the real flags are named (live-options), including an element of --symbols', () => {
    expect(errorOf(() => configFromValues({ symbols: 'BTCUSDT,b@d' }, {}))).toMatch(/^invalid configuration: --symbols: symbols\.1: .*\(got "B@D"\)$/);
    expect(errorOf(() => configFromValues({ 'log-level': 'loud' }, {}))).toMatch(/^invalid configuration: --log-level: logLevel: /);
  });

  it('several problems are one line, each with its origin; the total may not be below one part', () => {
    const file = configFile({ capture: { maxFileBytes: 256 * 1024 * 1024, maxTotalBytes: 64 * 1024 * 1024 }, colour: 'red' });
    const msg = errorOf(() => loadConfig({ file }));
    expect(msg.split('\n')).toHaveLength(1);
    expect(msg).toContain(`file ${file}: capture.maxTotalBytes: must not be below capture.maxFileBytes (the total must hold at least one part) (got 67108864)`);
    expect(msg).toContain(`file ${file}: colour: Unrecognized key: "colour"`);
  });
});

describe('configs the project itself writes', () => {
  // The Windows lane wrote `capture.maxFileBytes: 262144` after the bounds made 1 MiB the
  // minimum, and CI found out only after 15 minutes, under wine. Every JSON object literal a
  // script hands to the collector is checked here, in seconds, against the same loader.
  const SCRIPTS = ['scripts/windows-lane.sh'];
  const literals = SCRIPTS.flatMap((rel) =>
    [...readFileSync(join(REPO_ROOT, rel), 'utf8').matchAll(/'(\{[^']*\})'/g)].map((m) => ({ rel, text: m[1] as string })),
  );

  it('finds the config literals of the scripts (so the check below checks something)', () => {
    expect(literals.length).toBeGreaterThanOrEqual(2);
  });

  it.each(literals.map((l, i) => [i, l.rel, l.text] as const))('%i: %s %s loads within the bounds', (i, _rel, text) => {
    const file = join(tmp, `script-config-${i}.json`);
    writeFileSync(file, text);
    expect(() => loadConfig({ file, env: {} })).not.toThrow();
  });

  // The soak test (speed 120) and the memory-over-a-day benchmark (speed 200, up to 450 by flag)
  // configure the collector for their speed.
  it.each([1, 120, 200, 450])('the soak rig at speed %i', (speed) => {
    const { config } = collectorConfig(speed, 1000, 2000);
    expect(() => CollectorConfigSchema.parse(config)).not.toThrow();
  });
});
