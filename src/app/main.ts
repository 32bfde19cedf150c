/**
 * `npm start`: the native window. Checks that Qt can start before loading it (NodeGui aborts the
 * whole process, uncatchably, when Linux has no display and no QT_QPA_PLATFORM), then hands over
 * to src/app/gui.ts.
 */
import { parseArgs } from 'node:util';
import { reportCommandError } from './cli-errors';
import { favourMemory } from './favour-memory';
import { configFromValues, LIVE_OPTIONS_HELP, liveArgOptions, newRunId, parseClockArg, prepareRunDirs, scaleOutFromValues } from './live-options';
import type { ClockSpec } from '../clock/accelerated';
import { DEMO_STORE_PATH } from '../store/files';
import { deferNodeGuiStyleSheetModules } from '../widgets/nodegui-lazy-css';

function displayProblem(env: NodeJS.ProcessEnv): string | null {
  if (process.platform !== 'linux') return null;
  if (env.QT_QPA_PLATFORM || env.DISPLAY || env.WAYLAND_DISPLAY) return null;
  return [
    'No display: Qt cannot open a window here.',
    'Run it in a desktop session, or under a virtual display: xvfb-run -a npm start',
    'or without any display (nothing visible, for tests): QT_QPA_PLATFORM=offscreen npm start',
    'or without a window at all: node dist/cli.js live --headless',
  ].join('\n');
}

/**
 * Memory over speed (src/app/favour-memory.ts), before Qt and the worker allocate. Measured in the
 * demo under Xvfb (bench app-footprint): whole-app RSS about 16 MB lower, for about 1 % of a core
 * more (the collector's heap is collected every ~5 s instead of every ~40 s).
 */
favourMemory();

/**
 * `--qt-probe` (for `peak-pressure doctor --window`, which runs this in a child process): start Qt,
 * say which platform plugin it loaded, exit. A plugin that cannot load aborts this process inside
 * Qt, uncatchably; the doctor reads that from the exit signal and Qt's own stderr lines.
 */
function qtProbe(): number {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- Qt must not load before the display check
  const { QApplication } = require('@nodegui/nodegui') as typeof import('@nodegui/nodegui');
  const app = QApplication.instance();
  process.stdout.write(`qt-probe ok platform=${QApplication.platformName()}\n`);
  app.exit(0);
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...liveArgOptions,
      demo: { type: 'boolean', default: false },
      'ui-test': { type: 'string' },
      'ui-test-renders': { type: 'string' },
      'ui-test-min-events': { type: 'string' },
      'ui-test-boot': { type: 'boolean', default: false },
      'ui-test-select': { type: 'string' },
      footprint: { type: 'string' },
      'qt-probe': { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(
      `usage: npm start -- [options]   (or: node dist/main.js [options])\n\n  --demo                recorded real data through the loopback simulator, labelled DEMO\n${LIVE_OPTIONS_HELP}`,
    );
    return 0;
  }
  const problem = displayProblem(process.env);
  if (problem) {
    process.stderr.write(`${problem}\n`);
    return 2;
  }
  // The window is plain widgets drawn by Qt's raster engine. Without this, Qt's xcb GLX integration
  // loads the GPU driver into the process (Mesa's llvmpipe where there is no GPU: libLLVM and
  // swrast, ~55 MB of RSS) for nothing. Set before Qt starts (the doctor's --qt-probe too, so it probes what the window loads); an explicit value wins.
  if (process.platform === 'linux' && process.env.QT_XCB_GL_INTEGRATION === undefined) process.env.QT_XCB_GL_INTEGRATION = 'none';
  if (values['qt-probe']) return qtProbe();
  const runId = newRunId();
  let extra = {};
  let clock: ClockSpec | undefined;
  let stopDemo: (() => void) | undefined;
  if (values.demo) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the simulator is loaded only in demo mode
    const { startDemoSimulator } = require('./demo') as typeof import('./demo');
    const sim = await startDemoSimulator();
    extra = { restUrl: sim.restUrl, wsUrl: sim.wsUrl, mode: 'DEMO', store: { path: DEMO_STORE_PATH } };
    clock = sim.clock;
    stopDemo = sim.stop;
    process.stdout.write(`DEMO: recorded real data served by the loopback simulator at ${sim.restUrl}\n`);
  }
  const config = configFromValues(values, process.env, extra);
  const scaleOut = scaleOutFromValues(values);
  if (clock === undefined && values.clock) clock = parseClockArg(values.clock);
  prepareRunDirs(config);
  process.stdout.write('NATIVE WINDOWS OBSERVABILITY APP - Peak Pressure System v1.0\n');
  process.stdout.write(`Mode: ${config.mode === 'DEMO' ? 'DEMO (recorded data, loopback simulator)' : 'LIVE (Read-Only)'}\n`);
  process.stdout.write('Refresh: 500ms passive snapshot pull\n');
  // Qt is loaded only now, after the display check; NodeGui's style-sheet helpers only if called.
  deferNodeGuiStyleSheetModules();
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- Qt must not load before the display check
  const { runGui } = require('./gui') as typeof import('./gui');
  runGui({
    config,
    runId,
    ...(clock ? { clock } : {}),
    scaleOut,
    ...(values['ui-test']
      ? {
          uiTest: {
            dir: values['ui-test'],
            renders: Number(values['ui-test-renders'] ?? 4),
            minEvents: Number(values['ui-test-min-events'] ?? 0),
            boot: values['ui-test-boot'],
            ...(values['ui-test-select'] !== undefined ? { selectRow: Number(values['ui-test-select']) } : {}),
          },
        }
      : {}),
    ...(values.footprint ? { footprintFile: values.footprint } : {}),
    ...(stopDemo ? { onExit: stopDemo } : {}),
  });
  process.stdout.write('[NATIVE APP] Window initialized. Refresh: 500ms\n');
  return -1;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: unknown) => {
    process.exit(reportCommandError('peak-pressure', err, `usage: npm start -- [options]\n\n${LIVE_OPTIONS_HELP}`));
  },
);
