/**
 * The doctor inside the collector (issue 10 item 9): the periodic disk reading fills the snapshot's
 * storage section and fails soft into a listed health reason and an alert; stage DOCTOR_CHECKS
 * runs the doctor's checks against the simulator before symbol selection, and a failure (a
 * skewed exchange clock) is a health reason and an alert while detection goes on. The real
 * collector against the loopback simulator on the rig's manual clock; only statfs is replaced,
 * to give the run a small disk.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Clock } from '../src/clock/clock';
import { DISK_CHECK_EVERY_MS } from '../src/collector/checkups';
import { AuditEnvelopeSchema } from '../src/core/contracts/audit';
import { CheckIdSchema, DoctorCheckedSchema } from '../src/core/contracts/doctor';
import { realDoctorIo } from '../src/doctor/io';
import { MANUAL_T0, type Rig, startRig } from './collector-harness';

const MiB = 1024 * 1024;

let rig: Rig | null = null;
afterEach(async () => {
  await rig?.stop();
  rig = null;
});

function audit(r: Rig) {
  return readFileSync(join(r.dir, 'debug', 'audit.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => AuditEnvelopeSchema.parse(JSON.parse(l)));
}

describe('collector disk watch', () => {
  it('fills the storage section every minute; a small disk is DISK_LOW (listed, not degrading) and one alert; gone once there is room', async () => {
    let freeBytes = 100 * MiB;
    rig = await startRig({ doctorIo: (clock: Clock) => realDoctorIo({ now: () => clock.now(), statfs: () => ({ bavail: freeBytes / 4096, bsize: 4096 }) }) });
    const r = rig;
    const first = r.latest().storage;
    expect(first).toMatchObject({
      store_path: join(r.dir, 'data', 'peak-pressure.db'),
      store_free_bytes: 100 * MiB,
      captures_dir: join(r.dir, 'captures'),
      captures_free_bytes: 100 * MiB,
      store_growth_bytes_per_hour: null,
    });
    // The store exists from the constructor on (schema and the run row).
    expect(first?.db_bytes).toBeGreaterThan(0);
    expect(first?.sampled_ms).toBe(MANUAL_T0);

    await r.run(MANUAL_T0 + 60_500 - r.clock.now());
    const s = r.latest();
    expect(s.health_state).toBe('OK');
    expect(s.health_reasons).toEqual(['DISK_LOW']);
    expect(s.health_detail).toContain('100.0 MiB free beside the store');
    expect(s.health_detail).toContain('100.0 MiB free for captures');
    expect(s.storage?.sampled_ms).toBe(MANUAL_T0 + DISK_CHECK_EVERY_MS);
    // One alert naming both volumes, at the first reading only: the second found the same and said nothing.
    const alerted = r.lines.filter((l) => l.includes('!! ALERT WARN DISK_LOW'));
    expect(alerted).toHaveLength(1);
    expect(alerted[0]).toContain('beside the store');
    expect(alerted[0]).toContain('for captures');

    freeBytes = 100 * 1024 * MiB;
    await r.run(DISK_CHECK_EVERY_MS);
    expect(r.latest().storage?.store_free_bytes).toBe(100 * 1024 * MiB);
    expect(r.latest().health_reasons).toEqual([]);
    await r.stop();
    const alerts = audit(r).filter((a) => a.event_type === 'ALERT_RAISED' && a.reasons.includes('DISK_LOW'));
    expect(alerts).toHaveLength(1);
  }, 120_000);
});

describe('collector boot doctor (stage DOCTOR_CHECKS)', () => {
  it('runs the checks before symbol selection; a skewed exchange clock is CLOCK_SKEW (listed) and an alert, and detection goes on', async () => {
    rig = await startRig({ config: { doctorAtBoot: true }, beforeStart: (sim) => sim.fault({ kind: 'server_time_skew', ms: 3_000 }) });
    const r = rig;
    const stages = r.lines.filter((l) => l.includes('] stage '));
    expect(stages[0]).toContain('stage DOCTOR_CHECKS');
    expect(stages[1]).toContain('stage SYMBOL_SELECT — fetching exchangeInfo and the 24h ticker (doctor: 1 failed, see above)');
    expect(r.lines.some((l) => l.includes('doctor clock FAILED'))).toBe(true);
    expect(r.lines.some((l) => l.includes('!! ALERT WARN CLOCK_SKEW'))).toBe(true);

    await r.until('every baseline warm', () => r.collector.stats().stage === 'OBSERVE', 180_000);
    await r.run(Math.max(0, MANUAL_T0 + 60_500 - r.clock.now()));
    expect(r.latest().health_state).toBe('OK');
    expect(r.latest().health_reasons).toEqual(['CLOCK_SKEW']);
    // Warm windows judged past the baseline: detection was not held back by the failed check.
    const c = r.collector.counters()?.symbols.map((d) => d.counters) ?? [];
    const judged = c.reduce(
      (n, x) => n + x.flow_surge_failed + x.large_trade_failed + x.compression_failed + x.missing_streams + x.stress_failed + x.peak_pressure_count,
      0,
    );
    expect(judged).toBeGreaterThan(0);
    await r.stop();

    const checked = audit(r).filter((a) => a.event_type === 'DOCTOR_CHECKED');
    expect(checked).toHaveLength(1);
    expect(checked[0]?.stage).toBe('DOCTOR_CHECKS');
    expect(checked[0]?.reasons).toEqual(['CLOCK_SKEW']);
    const payload = DoctorCheckedSchema.parse(checked[0]?.payload);
    expect(payload.when).toBe('boot');
    expect(payload.results.map((c) => c.id)).toEqual(CheckIdSchema.options.filter((id) => id !== 'qt'));
    // Both routes answered with data, REST and every folder passed: only the clock failed.
    expect(payload.results.filter((c) => !c.ok).map((c) => c.id)).toEqual(['clock']);
  }, 180_000);
});
