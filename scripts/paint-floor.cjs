#!/usr/bin/env node
// Where a repaint of an item view goes under NodeGui (issue 11 item 5): the same 1200×600 table of
// 9 text columns repainted in four forms, each timed in CPU time (median of N repaints of the whole
// viewport, as an insert at the top of the events table causes):
//   native  QTableWidget, every text in a C++ item: Qt's own cost of painting the visible cells;
//   empty   QTableView over a NodeGui QAbstractTableModel whose data() answers an empty QVariant to
//           every role: what Qt's calls into JavaScript cost, with nothing to draw;
//   model   the same model answering text and alignment from cached QVariants, as
//           src/widgets/events-table.ts does: the events table's case;
//   none    no rows (the view's frame and header only).
//
//   QT_QPA_PLATFORM=offscreen node scripts/paint-floor.cjs [repaints]
//
// Prints one JSON line per form: visible rows, data() calls per repaint, CPU ms (median, p90).
'use strict';
const ng = require('@nodegui/nodegui');

const COLS = 9;
const ROWS = 10_000;
const repaints = Number(process.argv[2] ?? 60);
const text = (r, c) => `${String(r).padStart(5, '0')}/${c} 12,345.67`;

class Model extends ng.QAbstractTableModel {
  constructor(answer) {
    super();
    this.answer = answer;
    this.none = new ng.QVariant();
    this.root = new ng.QModelIndex();
    this.align = new ng.QVariant(ng.AlignmentFlag.AlignLeft | ng.AlignmentFlag.AlignVCenter);
    this.cache = new Map();
    this.calls = 0;
  }
  rowCount() {
    return this.answer === 'none' ? 0 : ROWS;
  }
  columnCount() {
    return COLS;
  }
  index(r, c) {
    return this.createIndex(r, c);
  }
  parentModelIndex() {
    return this.root;
  }
  flags() {
    return ng.ItemFlag.ItemIsSelectable | ng.ItemFlag.ItemIsEnabled | ng.ItemFlag.ItemNeverHasChildren;
  }
  data(index, role) {
    this.calls++;
    if (this.answer !== 'model') return this.none;
    if (role === ng.ItemDataRole.DisplayRole) {
      const r = index.row();
      let v = this.cache.get(r);
      if (v === undefined) {
        if (this.cache.size >= 256) this.cache.clear();
        v = Array.from({ length: COLS }, (_, c) => new ng.QVariant(text(r, c)));
        this.cache.set(r, v);
      }
      return v[index.column()] ?? this.none;
    }
    return role === ng.ItemDataRole.TextAlignmentRole ? this.align : this.none;
  }
  headerData() {
    return this.none;
  }
}

function viewOf(form) {
  if (form === 'native') {
    const shown = 60; // more than the viewport holds
    const t = new ng.QTableWidget(shown, COLS);
    for (let r = 0; r < shown; r++) for (let c = 0; c < COLS; c++) t.setItem(r, c, new ng.QTableWidgetItem(text(r, c)));
    return { view: t, model: null };
  }
  const model = new Model(form);
  const view = new ng.QTableView();
  view.setModel(model);
  return { view, model };
}

const app = ng.QApplication.instance();
const q = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];
for (const form of ['native', 'empty', 'model', 'none']) {
  const { view, model } = viewOf(form);
  // As the app's tables: fixed row height, no word wrap, no grid.
  view.verticalHeader().setSectionResizeMode(ng.QHeaderViewResizeMode.Fixed);
  view.verticalHeader().setDefaultSectionSize(20);
  view.setWordWrap(false);
  view.setShowGrid(false);
  view.resize(1200, 600);
  view.show();
  for (let i = 0; i < 20; i++) app.processEvents();
  const cpu = [];
  let calls = 0;
  for (let i = 0; i < repaints; i++) {
    if (model) model.calls = 0;
    const c0 = process.cpuUsage();
    view.viewport().repaint();
    const c1 = process.cpuUsage(c0);
    cpu.push((c1.user + c1.system) / 1000);
    if (model) calls = model.calls;
  }
  const rows = view.rowAt(view.viewport().height() - 1) - view.rowAt(0) + 1;
  console.log(
    JSON.stringify({
      form,
      visible_rows: form === 'none' ? 0 : rows,
      cells: form === 'none' ? 0 : rows * COLS,
      data_calls_per_repaint: model ? calls : null,
      cpu_ms_median: Number(q(cpu, 0.5).toFixed(2)),
      cpu_ms_p90: Number(q(cpu, 0.9).toFixed(2)),
    }),
  );
  view.close();
}
process.exit(0);
