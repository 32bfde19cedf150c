/**
 * `npm run demo`: the loopback simulator in a child process, serving recorded real data with a
 * scripted liquidation cascade; the app connects to it through the ordinary live code path.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { ClockSpec } from '../clock/accelerated';

export interface DemoSimulator {
  restUrl: string;
  wsUrl: string;
  clock?: ClockSpec;
  stop: () => void;
}

export function startDemoSimulator(): Promise<DemoSimulator> {
  const cli = join(__dirname, 'cli.js');
  const child = spawn(process.execPath, [cli, 'simulate', '--port', '0', '--scenario', 'demo'], { stdio: ['ignore', 'pipe', 'inherit'] });
  process.once('exit', () => child.kill('SIGTERM'));
  return new Promise((resolve, reject) => {
    let buf = '';
    let rest: string | null = null;
    let ws: string | null = null;
    const onData = (chunk: Buffer): void => {
      buf += chunk.toString();
      // The simulator prints "  REST  http://127.0.0.1:PORT/…" and "  WS    ws://127.0.0.1:PORT/…".
      rest ??= /REST\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(buf)?.[1] ?? null;
      ws ??= /WS\s+(ws:\/\/127\.0\.0\.1:\d+)/.exec(buf)?.[1] ?? null;
      if (rest === null || ws === null) return;
      child.stdout.off('data', onData);
      child.stdout.resume();
      resolve({ restUrl: rest, wsUrl: ws, stop: () => child.kill('SIGTERM') });
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => reject(new Error(`the demo simulator exited early (code ${code}): ${buf.slice(0, 300)}`)));
  });
}
