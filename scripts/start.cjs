#!/usr/bin/env node
// `npm start` / `npm run demo`: run the built app. With NodeGui's standard install (Windows, macOS,
// Linux with internet) the qode runtime exists and must run the app, because it drives Qt's event
// loop and provides symbols the prebuilt addon needs. With the offline Linux build (Debian Qt, addon
// compiled with scripts/qode-shim.cpp) there is no qode and plain Node runs it, pumping Qt itself.
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const main = join(__dirname, '..', 'dist', 'main.js');
if (!existsSync(main)) {
  process.stderr.write('dist/main.js is missing: run `npm run build` first.\n');
  process.exit(2);
}
let qode = null;
try {
  const { qodePath } = require('@nodegui/qode');
  if (qodePath && existsSync(qodePath)) qode = qodePath;
} catch {
  qode = null;
}
if (qode) {
  const r = spawnSync(qode, [main, ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status === null ? 1 : r.status);
}
require(main);
