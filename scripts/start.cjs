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

const main = join(__dirname, '..', 'dist', 'main.js');
if (!existsSync(main)) {
  process.stderr.write('dist/main.js is missing: run `npm run build` first.\n');
  process.exit(2);
}
let runtime = process.execPath;
try {
  const { qodePath } = require('@nodegui/qode');
  if (qodePath && existsSync(qodePath)) runtime = qodePath;
} catch {
  runtime = process.execPath;
}
const child = spawn(runtime, [main, ...process.argv.slice(2)], { stdio: 'inherit', env: withRuntimeEnv(process.env) });
// The app stops cleanly on SIGINT/SIGTERM (flushes its capture and snapshot): pass them on.
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code === null ? (signal ? 1 : 0) : code));
