/**
 * `npm run demo`: the loopback simulator in a child process, serving recorded real data with a
 * scripted liquidation cascade; the app connects to it through the ordinary live code path.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { ClockSpec } from '../ipc/messages';

export interface DemoSimulator {
  restUrl: string;
  wsUrl: string;
  clock?: ClockSpec;
  stop: () => void;
}

export function startDemoSimulator(): Promise<DemoSimulator> {
  const cli = join(__dirname, 'cli.js');
  const child = spawn(process.execPath, [cli, 'simulate', '--port', '0', '--scenario', 'demo', '--ready-json'], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (chunk: Buffer): void => {
      buf += chunk.toString();
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      child.stdout.off('data', onData);
      try {
        const ready = JSON.parse(buf.slice(0, nl)) as { restUrl: string; wsUrl: string };
        resolve({ restUrl: ready.restUrl, wsUrl: ready.wsUrl, stop: () => child.kill('SIGTERM') });
      } catch {
        reject(new Error(`the demo simulator did not start: ${buf.slice(0, 300)}`));
      }
      child.stdout.resume();
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => reject(new Error(`the demo simulator exited early (code ${code})`)));
    process.once('exit', () => child.kill('SIGTERM'));
  });
}
