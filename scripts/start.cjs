#!/usr/bin/env node
// `npm start` / `npm run demo`: run the built app in a child process with the runtime environment
// of scripts/runtime-env.cjs (it must be set before a process starts). With NodeGui's standard
// install (Windows, macOS, Linux with internet) the qode runtime exists and must run the app,
// because it drives Qt's event loop and provides symbols the prebuilt addon needs. With the offline
// Linux build (Debian Qt, addon compiled with scripts/qode-shim.cpp) there is no qode and plain
// Node runs it, pumping Qt itself.
'use strict';
const { spawn } = require('node:child_process');
const { existsSync } = require('node:fs');
const { join } = require('node:path');
const { withRuntimeEnv } = require('./runtime-env.cjs');

/**
 * The executable that runs the app: qode when @nodegui/qode is installed and its binary was
 * downloaded (qode.exe on Windows), else this Node. Arguments are seams for the unit test.
 */
function pickRuntime(loadQode = () => require('@nodegui/qode'), exists = existsSync, execPath = process.execPath) {
  try {
    const { qodePath } = loadQode();
    if (qodePath && exists(qodePath)) return qodePath;
  } catch {
    // @nodegui/qode is missing or broken: plain Node it is.
  }
  return execPath;
}

/**
 * What the launcher does with a stop signal; the app stops cleanly on each (flushes its capture
 * and snapshot). Linux/macOS: a signal sent to the launcher alone (`kill <pid>`) is passed on. On
 * Windows, Ctrl+C, Ctrl+Break and closing the console reach every process attached to the
 * console, the app included, while child.kill() is TerminateProcess, which would cut the app's
 * clean stop short: there the launcher only stays alive until the app has exited.
 */
function signalPlan(platform = process.platform) {
  return platform === 'win32' ? { forward: [], wait: ['SIGINT', 'SIGBREAK', 'SIGHUP'] } : { forward: ['SIGINT', 'SIGTERM'], wait: [] };
}

function main() {
  const app = join(__dirname, '..', 'dist', 'main.js');
  if (!existsSync(app)) {
    process.stderr.write('dist/main.js is missing: run `npm run build` first.\n');
    process.exit(2);
  }
  const child = spawn(pickRuntime(), [app, ...process.argv.slice(2)], { stdio: 'inherit', env: withRuntimeEnv(process.env) });
  const plan = signalPlan();
  for (const sig of plan.forward) process.on(sig, () => child.kill(sig));
  for (const sig of plan.wait) process.on(sig, () => undefined);
  child.on('exit', (code, signal) => process.exit(code === null ? (signal ? 1 : 0) : code));
}

if (require.main === module) main();

module.exports = { pickRuntime, signalPlan };
