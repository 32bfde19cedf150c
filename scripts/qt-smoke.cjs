#!/usr/bin/env node
// qt-smoke.cjs — smoke test for the offline-built NodeGui addon under plain `node`.
//
//   QT_QPA_PLATFORM=offscreen node scripts/qt-smoke.cjs /tmp/smoke.png
//   xvfb-run -a node scripts/qt-smoke.cjs /tmp/smoke.png
//
// Proves: the addon (scripts/build-qt-addon.sh + qode-shim.cpp) loads under plain node, a window
// renders (offscreen or X), widget text can be read back, and a widget grab can be saved as PNG.
// Prints one JSON line and exits 0 on success, 1 on failure.
//
// Caveats (see /work/shared/docs/NODEGUI-OFFLINE.md):
//  - Loading NodeGui with no display and no QT_QPA_PLATFORM aborts the process (uncatchable), so
//    this script refuses to start in that case.
//  - Never call app.exec() under plain node; Qt's loop is pumped with processEvents() instead.
'use strict';

const path = require('path');

const out = path.resolve(process.argv[2] || 'qt-smoke.png');

if (process.platform === 'linux' && !process.env.QT_QPA_PLATFORM && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
  console.error(
    'qt-smoke: no DISPLAY and no QT_QPA_PLATFORM; run with QT_QPA_PLATFORM=offscreen ' + 'or under xvfb-run (loading Qt here would abort the process).',
  );
  process.exit(2);
}

const { QApplication, QMainWindow, QWidget, QLabel, QTableWidget, QTableWidgetItem, QPixmap, QBoxLayout, Direction } = require('@nodegui/nodegui');

const win = new QMainWindow();
win.setWindowTitle('Peak Pressure — Qt smoke');
win.resize(480, 260);

const central = new QWidget();
const layout = new QBoxLayout(Direction.TopToBottom);
central.setLayout(layout);

const label = new QLabel();
label.setText('Peak Pressure smoke test');
label.setStyleSheet('QLabel { color: #1565c0; font-size: 16px; font-weight: bold; }');
layout.addWidget(label);

const table = new QTableWidget(2, 2);
table.setHorizontalHeaderLabels(['Sensor', 'Peak (kPa)']);
const cells = [
  ['S1', '101.3'],
  ['S2', '98.7'],
];
cells.forEach((row, r) => row.forEach((text, c) => table.setItem(r, c, new QTableWidgetItem(text))));
layout.addWidget(table);

win.setCentralWidget(central);
win.show();

// Plain node: nobody runs Qt's event loop, so pump it (never app.exec() here).
const pump = setInterval(() => QApplication.instance().processEvents(), 16);

setTimeout(() => {
  let code = 0;
  try {
    QApplication.instance().processEvents();
    // QWidget.grab() in 0.74.2 is typed as returning QPixmap but actually returns the native
    // object; wrap it so both cases work.
    const grabbed = win.grab();
    const pixmap = grabbed instanceof QPixmap ? grabbed : new QPixmap(grabbed);
    const saved = pixmap.save(out, 'PNG');
    const result = {
      ok: saved,
      qpa: process.env.QT_QPA_PLATFORM || (process.env.DISPLAY ? `xcb(${process.env.DISPLAY})` : ''),
      label: label.text(),
      labelStyle: label.styleSheet(),
      item_0_0: table.item(0, 0).text(),
      item_1_1: table.item(1, 1).text(),
      rows: table.rowCount(),
      png: out,
      pngSize: [pixmap.width(), pixmap.height()],
      node: process.version,
      qode: process.versions.qode || null,
    };
    console.log(JSON.stringify(result));
    if (!saved) code = 1;
  } catch (err) {
    console.error('qt-smoke failed:', err && err.stack ? err.stack : err);
    code = 1;
  }
  clearInterval(pump);
  win.close();
  process.exit(code);
}, 1000);
