/**
 * Replaying the capture of a live run reproduces that run exactly: the same promoted events,
 * byte for byte, and the same counters. The live run is the real collector against the loopback
 * simulator's demo scenario (recorded real flow plus a scripted liquidation cascade), accelerated.
 */
import { describe, expect, it } from 'vitest';
import { eventLine, runReplay } from '../src/replay/replay';
import { captureFiles, startRig, waitFor } from './collector-harness';

describe('capture → replay equivalence', () => {
  it('reproduces the live run’s promoted events and counters exactly', async () => {
    const rig = await startRig({ sim: { scenario: 'demo', speed: 4, seed: 11 }, useSimClock: true, config: { mode: 'DEMO' } });
    try {
      await waitFor('a promotion in the live run', () => (rig.collector.engine?.promotions.length ?? 0) >= 2, 150_000);
      await new Promise((r) => setTimeout(r, 1500));
    } finally {
      await rig.stop();
    }
    const engine = rig.collector.engine;
    const pipeline = rig.collector.pipeline;
    expect(engine).not.toBeNull();
    expect(pipeline).not.toBeNull();
    if (!engine || !pipeline) return;
    const liveEvents = engine.promotions.toArray().map(eventLine).join('');
    const liveCounters = engine.detectorsInRankOrder.map((d) => ({ symbol: d.symbol, ...d.counters }));
    expect(rig.collector.capture?.frames).toBe(pipeline.counters.frames_received);

    const files = captureFiles(rig.dir);
    expect(files.length).toBeGreaterThanOrEqual(1);
    const replayed: string[] = [];
    const { engine: re, pipeline: rePipeline, header } = await runReplay({ files, onPromotion: (e) => replayed.push(eventLine(e)) });
    expect(header?.symbols).toEqual(engine.symbols);
    expect(replayed.join('')).toBe(liveEvents);
    expect(re.detectorsInRankOrder.map((d) => ({ symbol: d.symbol, ...d.counters }))).toEqual(liveCounters);
    expect(rePipeline.counters.frames_received).toBe(pipeline.counters.frames_received);
    expect(re.watermark).toBe(engine.watermark);
  }, 200_000);
});
