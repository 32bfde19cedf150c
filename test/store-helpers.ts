/**
 * Shared by the store tests: real promoted events (the vendored capture merged with the synthetic
 * OI polls of fixtures/synthetic.ts, the only way its windows can pass condition 4), temp dirs, and
 * run descriptors.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RULE_SET_ID, RULE_SET_VERSION } from '../src/core/constants';
import type { PromotedEvent } from '../src/core/contracts/promoted';
import { runReplay } from '../src/replay/replay';
import type { RunStart } from '../src/store/contract';
import { DRIVER_ENV, type DriverName } from '../src/store/driver';
import { afterAll, beforeAll, describe } from 'vitest';
import { FIXTURE_FILES } from './fixtures/paths';
import { writeOiCapture } from './fixtures/synthetic';

export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

let cached: Promise<PromotedEvent[]> | null = null;

/** The promoted events of the fixture replay with synthetic OI, in promotion order. */
export function fixtureEvents(): Promise<PromotedEvent[]> {
  cached ??= (async () => {
    const t = tempDir('pp-store-events-');
    try {
      const events: PromotedEvent[] = [];
      await runReplay({ files: [...FIXTURE_FILES, writeOiCapture(join(t.dir, 'oi.capture'))], onPromotion: (e) => events.push(e) });
      if (events.length < 3) throw new Error(`fixture replay promoted only ${events.length} events; the store tests need a few`);
      return events;
    } finally {
      t.cleanup();
    }
  })();
  return cached;
}

export function runStart(run_id: string, started_ms: number, extra: Partial<RunStart> = {}): RunStart {
  return {
    run_id,
    started_ms,
    mode: 'LIVE_PEAK_PRESSURE',
    rule_set: { id: RULE_SET_ID, version: RULE_SET_VERSION },
    config_hash: 'test-config',
    app_version: 'test',
    ...extra,
  };
}

/** Both SQLite drivers (src/store/driver.ts): the store tests run once with each. */
export const DRIVERS: readonly DriverName[] = ['native', 'wasm'];

/**
 * Registers `body` once per driver: while a driver's block runs, every store opened without an
 * explicit driver uses it (PEAK_PRESSURE_STORE_DRIVER, which `chosenDriver` reads).
 */
export function describeEachDriver(name: string, body: (driver: DriverName) => void): void {
  for (const driver of DRIVERS) {
    describe(`${name} [${driver}]`, () => {
      const before = process.env[DRIVER_ENV];
      beforeAll(() => {
        process.env[DRIVER_ENV] = driver;
      });
      afterAll(() => {
        if (before === undefined) delete process.env[DRIVER_ENV];
        else process.env[DRIVER_ENV] = before;
      });
      body(driver);
    });
  }
}
