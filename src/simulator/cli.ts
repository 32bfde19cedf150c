/**
 * `peak-pressure simulate`: run the loopback exchange in the foreground until SIGINT/SIGTERM,
 * so the desktop app or a collector can be pointed at it instead of Binance.
 */
import { parseArgs } from 'node:util';
import { UsageError } from '../app/cli-errors';
import { startSimulator } from './server';

export const SIMULATE_USAGE = `usage: peak-pressure simulate [--port N] [--speed X] [--scenario steady|demo] [--data DIR] [--seed N] [--stats-every MS]
                                [--server-time-skew MS]

  --port N        TCP port on 127.0.0.1 (default 0: any free port)
  --speed X       exchange-time speed; 60 = one minute of market per second (default 1)
  --scenario S    steady: recorded flow looped; demo: adds a liquidation cascade every few minutes (default demo)
  --data DIR      recorded data directory (default ../shared/data, else test/fixtures)
  --seed N        seed for every scripted choice (default 1)
  --stats-every MS  also print a machine-readable \`stats {…}\` line every MS wall milliseconds
  --server-time-skew MS  serverTime answers MS ahead of the exchange clock (negative: behind), as a
                  local clock off by −MS sees it; try \`peak-pressure doctor\` against it

It prints \`clock {"originMs":…,"wallOriginMs":…,"speed":…}\` once listening: pass that JSON to
\`peak-pressure live --clock\` so an accelerated run stamps receive times on the simulator's clock.
`;

const STATUS_EVERY_MS = 30_000;

export async function simulateCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      port: { type: 'string' },
      speed: { type: 'string' },
      scenario: { type: 'string' },
      data: { type: 'string' },
      seed: { type: 'string' },
      'stats-every': { type: 'string' },
      'server-time-skew': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    process.stdout.write(SIMULATE_USAGE);
    return 0;
  }
  const port = values.port === undefined ? 0 : Number(values.port);
  const speed = values.speed === undefined ? 1 : Number(values.speed);
  const seed = values.seed === undefined ? 1 : Number(values.seed);
  const scenario = values.scenario ?? 'demo';
  if (!Number.isInteger(port) || port < 0 || port > 65535) return usageError(`bad --port ${values.port}`);
  if (!(speed > 0) || !Number.isFinite(speed)) return usageError(`bad --speed ${values.speed}`);
  if (!Number.isSafeInteger(seed)) return usageError(`bad --seed ${values.seed}`);
  if (scenario !== 'steady' && scenario !== 'demo') return usageError(`bad --scenario ${scenario}`);
  const statsEvery = values['stats-every'] === undefined ? null : Number(values['stats-every']);
  if (statsEvery !== null && !(Number.isInteger(statsEvery) && statsEvery >= 10))
    return usageError(`bad --stats-every ${values['stats-every']} (integer ≥ 10)`);

  const skew = values['server-time-skew'] === undefined ? 0 : Number(values['server-time-skew']);
  if (!Number.isSafeInteger(skew)) return usageError(`bad --server-time-skew ${values['server-time-skew']} (whole milliseconds)`);

  const sim = await startSimulator({ port, speed, seed, scenario, ...(values.data !== undefined ? { dataDir: values.data } : {}) });
  if (skew !== 0) sim.fault({ kind: 'server_time_skew', ms: skew });
  const out = process.stdout;
  out.write(`simulator listening on 127.0.0.1 (speed ${speed}, scenario ${scenario}, seed ${seed})\n`);
  out.write(`  REST  ${sim.restUrl}/fapi/v1/{exchangeInfo,ticker/24hr,openInterest,time}\n`);
  out.write(`  WS    ${sim.wsUrl}/market/stream?streams=…   ${sim.wsUrl}/market/ws/<stream>   ${sim.wsUrl}/public/…\n`);
  out.write(`  symbols ${sim.symbols.join(' ')}\n`);
  out.write(`  data  ${sim.stats().dataOrigin ?? ''}\n`);
  // The clock as WorkerData's ClockSpec: exchange ms originMs at wall (Date.now) ms wallOriginMs.
  const wallOriginMs = Date.now();
  const originMs = sim.now();
  out.write(`clock ${JSON.stringify({ originMs, wallOriginMs, speed })}\n`);

  let lastFrames = 0;
  const status = setInterval(() => {
    const st = sim.stats();
    const rate = Math.round(((st.framesSent - lastFrames) * 1000) / STATUS_EVERY_MS);
    lastFrames = st.framesSent;
    out.write(`[${new Date(sim.now()).toISOString()}] ${st.openConnections} connection(s), ${rate} frames/s, ${st.cascades?.length ?? 0} cascade(s) so far\n`);
  }, STATUS_EVERY_MS);
  status.unref();
  const statsTimer =
    statsEvery === null
      ? null
      : setInterval(() => {
          const st = sim.stats();
          const line = {
            wallMs: Date.now(),
            nowMs: sim.now(),
            framesSent: st.framesSent,
            openConnections: st.openConnections,
            connections: st.connections,
            lagMs: st.lagMs ?? 0,
            busyShare: st.busyShare ?? 0,
            cascades: st.cascades?.length ?? 0,
            restRequests: Object.values(st.restRequests).reduce((a, b) => a + b, 0),
            rssBytes: process.memoryUsage.rss(),
          };
          out.write(`stats ${JSON.stringify(line)}\n`);
        }, statsEvery);
  statsTimer?.unref();

  await new Promise<void>((resolve) => {
    const done = (): void => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve();
    };
    process.on('SIGINT', done);
    process.on('SIGTERM', done);
  });
  clearInterval(status);
  if (statsTimer !== null) clearInterval(statsTimer);
  await sim.stop();
  out.write('simulator stopped\n');
  return 0;
}

function usageError(msg: string): never {
  throw new UsageError(msg);
}
