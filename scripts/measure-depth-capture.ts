/**
 * How many capture bytes per second depth adds: the simulator's 10 symbols at `@depth@100ms` on
 * /public (books synced over REST, the snapshot bodies recorded too) beside the app's /market
 * streams, every frame written by the CaptureWriter as the live collector writes it. Bytes are per
 * second of exchange time (the simulator runs accelerated), raw (capture lines) and gzip (on disk),
 * for depth alone, /market alone and both in one file. Not a benchmark section: a measurement for
 * the capture budget (issue 12).
 *
 *   npx tsc -p scripts/tsconfig.measure.json && node build/measure/scripts/measure-depth-capture.js [speed=5] [wall seconds=40]
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { binanceUsdm } from '../src/binance/adapter';
import { BookRoom } from '../src/binance/book/book-room';
import { formatCaptureLine } from '../src/capture/format';
import { CaptureWriter } from '../src/capture/writer';
import type { Frame } from '../src/core/source';
import { startSimulator } from '../src/simulator/server';
import { DepthClient, waitFor } from '../test/depth-client';

const speed = Number(process.argv[2] ?? 5);
const wallS = Number(process.argv[3] ?? 40);

async function main(): Promise<void> {
  const sim = await startSimulator({ speed, seed: 1 });
  const symbols = [...sim.symbols];
  const dir = mkdtempSync(join(tmpdir(), 'pp-depth-bytes-'));
  const writer = (name: string): CaptureWriter =>
    new CaptureWriter({ dir: join(dir, name), runId: name, header: { run_id: name, symbols }, maxFileBytes: 2 ** 40, maxTotalBytes: 2 ** 40 });
  const all = writer('all');
  const depth = writer('depth');
  const market = writer('market');
  const raw = { depth: 0, market: 0, depthFrames: 0, marketFrames: 0, restDepth: 0 };
  const books = new BookRoom({ symbols, sampleDepthBps: 10 });
  let measuring = false;
  const onFrame = (f: Frame): void => {
    books.ingestFrame(f);
    if (!measuring) return;
    const isDepth = f.source === 'ws:/public/stream' || f.source.startsWith('rest:/fapi/v1/depth');
    const bytes = formatCaptureLine(f).length + 1;
    all.write(f);
    if (isDepth) {
      depth.write(f);
      raw.depth += bytes;
      raw.depthFrames++;
      if (f.source.startsWith('rest:')) raw.restDepth++;
    } else {
      market.write(f);
      raw.market += bytes;
      raw.marketFrames++;
    }
  };
  const client = await DepthClient.open({ sim, symbols, books, onFrame, marketStreams: binanceUsdm.subscriptions(symbols, { markPrice: true }) });
  await waitFor(() => symbols.every((s) => books.book(s)?.state === 'LIVE'), 'every book LIVE', 120_000);
  // From here on every frame is recorded; books that resync later record their snapshot bodies too.
  measuring = true;
  const t0 = sim.now();
  await new Promise((r) => setTimeout(r, wallS * 1000));
  const exchangeS = (sim.now() - t0) / 1000;
  client.close();
  await Promise.all([all.close(), depth.close(), market.close()]);
  const lag = sim.stats().lagMs ?? 0;
  await sim.stop();
  const gz = (w: CaptureWriter): number => w.files.reduce((s, f) => s + statSync(f).size, 0);
  const kb = (bytes: number): string => (bytes / exchangeS / 1024).toFixed(1).padStart(8);
  const day = (bytes: number): string => (((bytes / exchangeS) * 86_400) / 1e9).toFixed(2).padStart(6);
  console.log(`speed ${speed}, ${wallS} s wall = ${exchangeS.toFixed(1)} s of exchange time (simulator lag at the end ${lag} ms), ${symbols.length} symbols`);
  console.log(
    `depth: ${(raw.depthFrames / exchangeS).toFixed(1)} frames/s (${raw.restDepth} REST bodies), market: ${(raw.marketFrames / exchangeS).toFixed(1)} frames/s`,
  );
  console.log('                    raw KB/s   gzip KB/s   raw GB/day  gzip GB/day');
  console.log(`depth (/public+REST) ${kb(raw.depth)}    ${kb(gz(depth))}      ${day(raw.depth)}      ${day(gz(depth))}`);
  console.log(`market (/market)     ${kb(raw.market)}    ${kb(gz(market))}      ${day(raw.market)}      ${day(gz(market))}`);
  console.log(`both, one capture    ${kb(raw.depth + raw.market)}    ${kb(gz(all))}      ${day(raw.depth + raw.market)}      ${day(gz(all))}`);
  rmSync(dir, { recursive: true, force: true });
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
