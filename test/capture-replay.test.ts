/**
 * Replaying the capture of a live run reproduces that run exactly: the same promoted events,
 * byte for byte, and the same counters. The live run is the real collector against the loopback
 * simulator's demo scenario (recorded real flow plus a scripted liquidation cascade), both on the
 * rig's shared manual clock, so the run covers minutes of exchange time in seconds. The live
 * snapshot's "why silent?" near misses are the replay's too: the collector feeds its log from the
 * same window hook.
 */
import { describe, expect, it } from 'vitest';
import { eventLine, runReplay } from '../src/replay/replay';
import { captureFiles, startRig } from './collector-harness';

describe('capture → replay equivalence', () => {
  it('reproduces the live run’s promoted events and counters exactly', async () => {
    const rig = await startRig({ sim: { scenario: 'demo', seed: 11 }, config: { mode: 'DEMO' } });
    try {
      await rig.until('a promotion in the live run', () => rig.collector.promotions().length >= 2, 600_000);
      await rig.run(1500);
    } finally {
      await rig.stop();
    }
    const live = rig.collector.counters();
    expect(live).not.toBeNull();
    if (!live) return;
    const liveEvents = rig.collector.promotions().map(eventLine).join('');
    const liveCounters = live.symbols.map((d) => ({ symbol: d.symbol, ...d.counters }));
    expect(rig.collector.stats().capture?.frames).toBe(live.frames.frames_received);

    const files = captureFiles(rig.dir);
    expect(files.length).toBeGreaterThanOrEqual(1);
    const replayed: string[] = [];
    const {
      engine: re,
      pipeline: rePipeline,
      header,
      nearMisses,
    } = await runReplay({ files, nearMisses: true, onPromotion: (e) => replayed.push(eventLine(e)) });
    expect(header?.symbols).toEqual(rig.collector.stats().selection?.symbols);
    expect(replayed.join('')).toBe(liveEvents);
    expect(re.detectorsInRankOrder.map((d) => ({ symbol: d.symbol, ...d.counters }))).toEqual(liveCounters);
    expect(rePipeline.counters.frames_received).toBe(live.frames.frames_received);
    expect(re.watermark).toBe(live.watermarkMs);
    const liveNearMisses = rig.latest().near_misses;
    expect(Object.keys(liveNearMisses)).toEqual(header?.symbols);
    expect(Object.values(liveNearMisses).flat().length).toBeGreaterThan(0);
    expect(liveNearMisses).toEqual(nearMisses?.view());
  }, 200_000);
});
