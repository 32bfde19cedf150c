/**
 * The NodeGui window. Status row across the top (with the UI-local alert controls); System Health
 * (summary, per-symbol grid, the counter tables) across the full width; below it, split side by
 * side, the Raw Market Feed and a tab widget: Promoted Events (this run's table + detail pane, and
 * earlier runs' events below it), "Why silent?", the liquidation tape, the order books, policy
 * four-pillars-001 and the sinks. Toasts stack over the top right, non-modal.
 * Splitter sizes, the open tab, the events table's columns and sort and the window size are
 * restored at start and saved while they change (src/widgets/layout-store.ts).
 *
 * It binds a ViewModel, the promoted events, the history and the toasts, nothing else: no control
 * in it can change what the collector does (filters, sort, tabs, splitters, sound and mute are
 * UI-local). Text can be selected and
 * copied. Loaded only on the main thread, only after the platform check in src/app/main.ts.
 */
import {
  AlignmentFlag,
  TextFormat,
  Direction,
  Orientation,
  QBoxLayout,
  QCheckBox,
  QFont,
  QGroupBox,
  QIcon,
  QKeySequence,
  QLabel,
  QMainWindow,
  QShortcut,
  QSplitter,
  QTabWidget,
  QWidget,
  WidgetEventTypes,
} from '@nodegui/nodegui';
import type { PromotedEvent } from '../core/contracts/promoted';
import type { ToastView } from './alerts-view';
import { BOOK_COLUMNS, type PanelModel, POLICY_EVENT_COLUMNS, POLICY_PARTITION_COLUMNS, SINK_COLUMNS, TAPE_COLUMNS } from './beside-view';
import { CellTable } from './cell-table';
import { HISTORY_COLUMNS, type HistoryTable } from './history-view';
import { fitToWidest, type PanelTexts, PanelTab, plainLabel } from './panel-tab';
import { BESIDE_TABS, EVENTS_TAB, TAB_KEYS, TAB_ORDER, TAB_TITLES, WHY_SILENT_TAB } from './tabs';
import { ToastOverlay } from './toast-overlay';
import { NEAR_MISS_COLUMNS, type NearMissPanelModel } from './near-miss-view';
import { DEFAULT_SORT, EventLog } from './events-model';
import { EventsPanel, type EventsTexts } from './events-table';
import type { Layout } from './layout';
import { COLORS, type Cell, FEED_ROWS, type StatusBarModel, SYMBOL_COLUMNS, type TableRow, type ViewModel } from './view-model';

const FEED_COLUMNS = ['Time', 'Symbol', 'Price', 'Qty', 'Side'] as const;
/** The widest symbol of the usual top 10 (column widths are fixed to it rather than re-measured). */
const LONGEST_SYMBOL = '1000PEPEUSDT';
const ROW_HEIGHT = 19;
const STATUS_KEYS = ['mode', 'symbols', 'baselines', 'health', 'windows', 'events', 'lastUpdate'] as const satisfies readonly (keyof StatusBarModel)[];
/** Summary lines under the health heading: health, connections, rates (the detail has its own label). */
const HEALTH_LINES = 3;
export { EVENTS_TAB, TAB_KEYS, TAB_ORDER, TAB_TITLES, WHY_SILENT_TAB } from './tabs';

/** A layout to start from: a saved one, or the defaults (whose column widths come from the font). */
export type StartLayout = Omit<Layout, 'columns'> & { columns: readonly number[] };

export const DEFAULT_LAYOUT: StartLayout = Object.freeze({
  v: 1 as const,
  window: { width: 1600, height: 1000 },
  main: [330, 640] as [number, number],
  // The tabs get the larger share: at 1280 px the events table's columns fit without scrolling.
  bottom: [500, 1060] as [number, number],
  events: [380, 220] as [number, number],
  tab: EVENTS_TAB,
  columns: [],
  sort: DEFAULT_SORT,
});

/** What the window currently shows, read back from the Qt widgets themselves. */
export interface WindowTexts {
  status: Record<(typeof STATUS_KEYS)[number], string>;
  health: { heading: string; lines: string[]; detail: string | null };
  symbols: { columns: string[]; rows: string[][]; colors: string[][]; fitsWidth: boolean };
  failures: { heading: string; rows: string[][] };
  dropped: { heading: string; rows: string[][] };
  trades: string[][];
  liquidations: string[][];
  events: EventsTexts;
  tabs: string[];
  tab: string;
  whySilent: { title: string; perSymbol: string; rows: string[][]; colors: string[][]; empty: string | null; fitsWidth: boolean };
  history: PanelTexts;
  beside: Record<keyof ViewModel['beside'], PanelTexts>;
  toasts: { text: string; color: string }[];
  alertPrefs: { sound: boolean; muted: boolean };
  failure: string | null;
  size: { width: number; height: number };
}

function feedCells(rows: readonly TableRow[]): Cell[][] {
  return rows.map((r) => [
    { text: r.time, color: COLORS.text },
    { text: r.symbol, color: COLORS.text },
    { text: r.price, color: COLORS.text },
    { text: r.qty, color: COLORS.text },
    { text: r.side, color: r.sideColor },
  ]);
}

function box(direction: Direction, margin = 0, spacing = 4): { widget: QWidget; layout: QBoxLayout } {
  const widget = new QWidget();
  const layout = new QBoxLayout(direction);
  layout.setContentsMargins(margin, margin, margin, margin);
  layout.setSpacing(spacing);
  widget.setLayout(layout);
  return { widget, layout };
}

const label = plainLabel;

/** Gives a splitter's two children their starting sizes (it divides its space in that proportion). */
function split(orientation: Orientation, a: QWidget, b: QWidget, sizes: readonly [number, number], cross: number): QSplitter {
  const s = new QSplitter();
  s.setOrientation(orientation);
  const along = (w: QWidget, n: number): void => (orientation === Orientation.Vertical ? w.resize(cross, Math.max(40, n)) : w.resize(Math.max(40, n), cross));
  along(a, sizes[0]);
  along(b, sizes[1]);
  s.addWidget(a);
  s.addWidget(b);
  s.setCollapsible(0, false);
  s.setCollapsible(1, false);
  return s;
}

/** A colour-only style that bypasses NodeGui's postcss pass (it costs ~0.3 ms a call). */
function setColor(l: QLabel, color: string, shown: Map<QLabel, string>): void {
  if (shown.get(l) === color) return;
  l.setStyleSheet(`color: ${color};`, false);
  shown.set(l, color);
}

/** Sets a label's text when it differs from what this window last set (no read back from Qt per render). */
function setText(l: QLabel, text: string, shown: Map<QLabel, string>): void {
  if (shown.get(l) === text) return;
  l.setText(text);
  shown.set(l, text);
}

export interface WindowOptions {
  onClose: () => void;
  /** The saved layout to start from (null: the defaults). */
  layout: StartLayout | null;
  /** Rows the events table keeps (default EVENT_ROWS_MAX). */
  eventRows?: number;
  /** A click on a toast (the caller's stack drops it). */
  onDismissToast?: (id: number) => void;
  /** The sound and mute boxes changed: UI-local preferences, never sent to the collector. */
  onAlertPrefs?: (prefs: { sound: boolean; muted: boolean }) => void;
}

export class PeakPressureWindow {
  readonly win: QMainWindow;
  readonly events: EventsPanel;
  readonly log: EventLog;
  private readonly status = {} as Record<(typeof STATUS_KEYS)[number], QLabel>;
  private readonly healthHeading: QLabel;
  private readonly healthLines: QLabel[] = [];
  private readonly healthDetail = label();
  private readonly symbols: CellTable;
  private readonly failures: CellTable;
  private readonly dropped: CellTable;
  private readonly failuresHeading: QLabel;
  private readonly droppedHeading: QLabel;
  private readonly trades: CellTable;
  private readonly liquidations: CellTable;
  private readonly tabs: QTabWidget;
  /** Earlier runs' events (created when the history arrives: see showHistory). */
  private history: PanelTab | null = null;
  private readonly common: { rowHeight: number; font: QFont };
  private readonly beside = {} as Record<keyof ViewModel['beside'], PanelTab>;
  private readonly toasts: ToastOverlay;
  readonly soundBox: QCheckBox;
  readonly muteBox: QCheckBox;
  private readonly whySilentTitle: QLabel;
  private readonly whySilentLines: QLabel;
  private readonly whySilentEmpty: QLabel;
  private readonly whySilent: CellTable;
  private readonly mainSplit: QSplitter;
  private readonly bottomSplit: QSplitter;
  private readonly healthBox: QGroupBox;
  private readonly bottom: QWidget;
  private readonly feedBox: QGroupBox;
  private readonly panels: QWidget;
  private readonly failureLabel: QLabel;
  private readonly colors = new Map<QLabel, string>();
  private readonly texts = new Map<QLabel, string>();
  private readonly shortcuts: { key: string; run: () => void; shortcut: QShortcut }[] = [];
  /**
   * What the tabs that are not open were last given, bound when one is opened (or read back): a
   * tab nobody looks at costs no binding per render (the order books and four-pillars tables
   * change on every snapshot).
   */
  private unbound: { whySilent: NearMissPanelModel | null; beside: Partial<ViewModel['beside']> } = { whySilent: null, beside: {} };

  constructor(opts: WindowOptions) {
    const layout = opts.layout ?? DEFAULT_LAYOUT;
    const win = new QMainWindow();
    this.win = win;
    win.setWindowTitle('Peak Pressure — Binance USDⓈ-M observer');
    win.resize(layout.window.width, layout.window.height);
    win.setMinimumSize(1024, 700);
    const tableFont = new QFont('DejaVu Sans', 9);
    tableFont.setPixelSize(12);
    const monoFont = new QFont('DejaVu Sans Mono', 9);
    monoFont.setPixelSize(12);

    const root = box(Direction.TopToBottom, 6, 6);
    root.widget.setObjectName('root');

    const statusRow = box(Direction.LeftToRight, 4, 4);
    statusRow.widget.setObjectName('status');
    for (const key of STATUS_KEYS) {
      const l = label(key === 'mode' ? 'Mode: LOADING...' : '');
      // The symbol list is the one long item: let it wrap rather than be cut at 1280 px. The
      // others get a fixed size once shown (fixChangingLabels).
      if (key === 'symbols') l.setWordWrap(true);
      statusRow.layout.addWidget(l, key === 'symbols' ? 1 : 0);
      this.status[key] = l;
    }
    // UI-local alert preferences (SPEC §21): the sound is off by default; mute silences sound and
    // tray notifications (toasts still show). Neither reaches the collector.
    this.soundBox = new QCheckBox();
    this.soundBox.setText('Alert sound');
    this.soundBox.setObjectName('alertSound');
    this.muteBox = new QCheckBox();
    this.muteBox.setText('Mute alerts');
    this.muteBox.setObjectName('alertMute');
    const prefs = (): void => opts.onAlertPrefs?.({ sound: this.soundBox.isChecked(), muted: this.muteBox.isChecked() });
    this.soundBox.addEventListener('toggled', prefs);
    this.muteBox.addEventListener('toggled', prefs);
    statusRow.layout.addWidget(this.soundBox);
    statusRow.layout.addWidget(this.muteBox);
    root.layout.addWidget(statusRow.widget);

    // ---- System Health: summary lines, then the per-symbol grid beside the two counter tables.
    this.healthBox = new QGroupBox();
    this.healthBox.setTitle('System Health');
    const healthLayout = new QBoxLayout(Direction.TopToBottom);
    healthLayout.setContentsMargins(8, 6, 8, 8);
    healthLayout.setSpacing(2);
    this.healthBox.setLayout(healthLayout);
    this.healthHeading = label('', 'heading');
    healthLayout.addWidget(this.healthHeading);
    for (let i = 0; i < HEALTH_LINES; i++) {
      const l = label();
      healthLayout.addWidget(l);
      this.healthLines.push(l);
      if (i === 0) {
        // Only the free-text detail wraps: a wrapping label re-lays out its parent on every text
        // change, and the rates line changes on every render.
        this.healthDetail.setWordWrap(true);
        this.healthDetail.hide();
        healthLayout.addWidget(this.healthDetail);
      }
    }
    const grids = box(Direction.LeftToRight, 0, 10);
    const tableHeight = ROW_HEIGHT * 10 + 26;
    // Symbol columns fit the longest name (1000PEPEUSDT); the others share the rest.
    const common = { rowHeight: ROW_HEIGHT, font: tableFont };
    this.symbols = new CellTable({ ...common, columns: SYMBOL_COLUMNS, numeric: [2, 3, 4, 5, 7], fixed: { 0: LONGEST_SYMBOL } });
    this.failures = new CellTable({
      columns: ['Outcome', 'Windows', 'Share'],
      numeric: [1, 2],
      ...common,
      fixed: { 1: '123,456,789', 2: '100.0 %' },
    });
    this.dropped = new CellTable({ ...common, columns: ['Reason', 'Count'], numeric: [1], fixed: { 1: '123,456,789' } });
    const column = (heading: QLabel | null, table: CellTable, stretch: number): void => {
      const c = box(Direction.TopToBottom, 0, 2);
      if (heading) c.layout.addWidget(heading);
      table.widget.setMinimumHeight(tableHeight);
      c.layout.addWidget(table.widget, 1);
      grids.layout.addWidget(c.widget, stretch);
    };
    this.failuresHeading = label('', 'heading');
    this.droppedHeading = label('', 'heading');
    this.symbols.widget.setObjectName('symbolGrid');
    this.failures.widget.setObjectName('failuresTable');
    this.dropped.widget.setObjectName('droppedTable');
    column(null, this.symbols, 11);
    column(this.failuresHeading, this.failures, 6);
    column(this.droppedHeading, this.dropped, 4);
    healthLayout.addWidget(grids.widget, 1);

    // ---- Raw Market Feed.
    this.feedBox = new QGroupBox();
    this.feedBox.setTitle('Raw Market Feed');
    const feedLayout = new QBoxLayout(Direction.TopToBottom);
    feedLayout.setContentsMargins(8, 6, 8, 8);
    feedLayout.setSpacing(2);
    this.feedBox.setLayout(feedLayout);
    const feed = { ...common, columns: FEED_COLUMNS, numeric: [2, 3], rows: FEED_ROWS, fixed: { 1: LONGEST_SYMBOL } };
    this.trades = new CellTable(feed);
    this.liquidations = new CellTable(feed);
    this.trades.widget.setObjectName('tradesTable');
    this.liquidations.widget.setObjectName('liquidationsTable');
    for (const [title, table] of [
      ['Trades (newest first)', this.trades],
      ['Liquidations (newest first)', this.liquidations],
    ] as const) {
      feedLayout.addWidget(label(title));
      feedLayout.addWidget(table.widget, 1);
    }

    // ---- Tabs: Promoted Events first, then the coming panels.
    this.log = new EventLog(opts.eventRows);
    this.log.arrange(layout.sort, this.log.filter);
    this.events = new EventsPanel(this.log, tableFont, monoFont, layout.events);
    if (layout.columns.length > 0) this.events.setColumnWidths(layout.columns);
    this.tabs = new QTabWidget();
    this.tabs.setObjectName('tabs');
    this.common = common;
    // NodeGui 0.74.2 adds nothing for addTab(page, 'label'): only the (page, icon, label) form works.
    this.tabs.addTab(this.events.widget, new QIcon(), TAB_TITLES[0] ?? '');
    // "Why silent?": the near misses (SPEC §21), newest first; inspection only.
    const why = box(Direction.TopToBottom, 6, 4);
    this.whySilentTitle = label('', 'heading');
    this.whySilentLines = label();
    this.whySilentEmpty = label('', 'emptyState');
    this.whySilentEmpty.setWordWrap(true);
    this.whySilent = new CellTable({ ...common, columns: NEAR_MISS_COLUMNS, numeric: [3, 4, 5], fixed: { 0: '00:00:00', 1: LONGEST_SYMBOL } });
    why.layout.addWidget(this.whySilentTitle);
    why.layout.addWidget(this.whySilentLines);
    why.layout.addWidget(this.whySilentEmpty);
    why.layout.addWidget(this.whySilent.widget, 1);
    this.tabs.addTab(why.widget, new QIcon(), TAB_TITLES[1] ?? '');
    const specs: Record<keyof ViewModel['beside'], { columns: readonly string[]; numeric: number[]; fixed: Record<number, string> }[]> = {
      tape: [{ columns: TAPE_COLUMNS, numeric: [2, 3, 4, 5], fixed: { 0: LONGEST_SYMBOL, 6: '00:00:00', 7: '00:00:00' } }],
      books: [{ columns: BOOK_COLUMNS, numeric: [2, 3, 4, 5, 7, 8, 9], fixed: { 0: LONGEST_SYMBOL, 1: 'RESYNCING' } }],
      policy: [
        { columns: POLICY_PARTITION_COLUMNS, numeric: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], fixed: { 0: LONGEST_SYMBOL } },
        { columns: POLICY_EVENT_COLUMNS, numeric: [3, 4, 5, 6], fixed: { 0: '12-31 23:59:59', 1: LONGEST_SYMBOL } },
      ],
      sinks: [{ columns: SINK_COLUMNS, numeric: [2, 3, 6], fixed: { 1: 'DEGRADED (SINK_DEGRADED)' } }],
    };
    for (const t of BESIDE_TABS) {
      const panel = new PanelTab(specs[t.panel], common);
      this.beside[t.panel] = panel;
      this.tabs.addTab(panel.widget, new QIcon(), t.title);
    }
    this.tabs.setCurrentIndex(Math.max(0, TAB_KEYS.indexOf(layout.tab)));
    this.tabs.addEventListener('currentChanged', () => this.bindTabs(false));

    const width = layout.window.width;
    this.bottomSplit = split(Orientation.Horizontal, this.feedBox, this.tabs, layout.bottom, 600);
    this.bottom = this.bottomSplit;
    this.mainSplit = split(Orientation.Vertical, this.healthBox, this.bottom, layout.main, width);
    this.panels = this.mainSplit;
    root.layout.addWidget(this.panels, 1);

    this.failureLabel = new QLabel();
    this.failureLabel.setObjectName('failure');
    // The failure text quotes error details: never interpreted as HTML.
    this.failureLabel.setTextFormat(TextFormat.PlainText);
    this.failureLabel.setWordWrap(true);
    this.failureLabel.setAlignment(AlignmentFlag.AlignCenter);
    this.failureLabel.setTextInteractionFlags(1);
    this.failureLabel.hide();
    root.layout.addWidget(this.failureLabel, 1);

    // Plain Qt style sheet syntax: set as is. NodeGui's default pass runs it through postcss (its
    // flexbox prefixer), which compiles postcss's parser into this isolate's heap for nothing.
    root.widget.setStyleSheet(
      `
      #root { background-color: ${COLORS.background}; }
      QLabel { color: ${COLORS.text}; font-size: 13px; }
      QLabel#heading { font-family: 'DejaVu Sans Mono'; font-weight: bold; font-size: 12px; color: ${COLORS.white}; }
      QLabel#note { color: ${COLORS.grey}; font-size: 12px; }
      QLabel#emptyState { font-size: 13px; padding: 8px; }
      #status { background-color: #000000; }
      #status QLabel { font-weight: bold; padding: 2px 4px; font-size: 12px; }
      #status QCheckBox { color: ${COLORS.text}; font-size: 12px; padding: 2px 4px; }
      QGroupBox { color: ${COLORS.text}; font-weight: bold; border: 1px solid #3c3c3c; margin-top: 14px; }
      QGroupBox::title { subcontrol-origin: margin; left: 8px; padding: 0 4px; }
      QPlainTextEdit { background-color: ${COLORS.panel}; color: ${COLORS.text}; border: 1px solid #3c3c3c; }
      QTableWidget, QTableView { background-color: ${COLORS.panel}; alternate-background-color: #2d2d30; color: ${COLORS.text}; selection-background-color: #264f78; border: 1px solid #3c3c3c; }
      QHeaderView::section { background-color: #333333; color: ${COLORS.text}; border: none; border-right: 1px solid #3c3c3c; padding: 2px 4px; font-size: 12px; }
      QTabWidget::pane { border: 1px solid #3c3c3c; }
      QTabBar::tab { background: #2d2d2d; color: ${COLORS.text}; padding: 4px 10px; border: 1px solid #3c3c3c; }
      QTabBar::tab:selected { background: ${COLORS.panel}; color: ${COLORS.white}; font-weight: bold; }
      QLineEdit, QComboBox { background-color: ${COLORS.panel}; color: ${COLORS.text}; border: 1px solid #4a4a4a; padding: 2px 4px; font-size: 12px; }
      QSplitter::handle { background-color: #2d2d2d; }
      #failure { color: ${COLORS.red}; font-size: 20px; font-weight: bold; background-color: #2b0000; padding: 40px; }
    `,
      false,
    );
    win.setCentralWidget(root.widget);
    // Toasts go under the status row (its mode, health and alert controls stay in sight).
    this.toasts = new ToastOverlay(
      root.widget,
      (id) => opts.onDismissToast?.(id),
      () => statusRow.widget.size().height() + 12,
    );
    win.addEventListener(WidgetEventTypes.Close, opts.onClose);
    win.addEventListener(WidgetEventTypes.Resize, () => this.toasts.place());
    this.addShortcut('Ctrl+F', () => {
      this.tabs.setCurrentIndex(0);
      this.events.focusFilter();
    });
    this.addShortcut('Esc', () => this.events.clearFilter());
  }

  private addShortcut(key: string, run: () => void): void {
    const shortcut = new QShortcut(this.win);
    shortcut.setKey(new QKeySequence(key));
    shortcut.setEnabled(true);
    shortcut.addEventListener('activated', run);
    this.shortcuts.push({ key, run, shortcut });
  }

  /** Runs what a keyboard shortcut runs (tests drive the shortcuts through this). */
  shortcut(key: string): boolean {
    const s = this.shortcuts.find((x) => x.key === key);
    s?.run();
    return s !== undefined;
  }

  show(): void {
    this.win.show();
    this.fixChangingLabels();
  }

  /**
   * Labels whose text changes on every render get a fixed size (that of the widest text they
   * show), so a new text repaints the label and nothing else: a label that may change size makes
   * its whole layout, up to the window, lay out again (measured: 0.4 % of a core in the demo).
   * Done after the window is shown, when the labels carry their style sheet's font.
   */
  private fixChangingLabels(): void {
    const fit = fitToWidest;
    const status: Partial<Record<(typeof STATUS_KEYS)[number], readonly string[]>> = {
      mode: ['Mode: LIVE_PEAK_PRESSURE', 'Mode: LOADING...'],
      baselines: ['Baselines: 99 / 99'],
      health: ['Health: DEGRADED', 'Health: STARTING'],
      windows: ['Windows: 99,999,999'],
      events: ['Events: 99,999'],
      lastUpdate: ['Last update: 00:00:00'],
    };
    for (const [key, samples] of Object.entries(status)) fit(this.status[key as keyof typeof status], samples, 14);
    const rates = this.healthLines[2];
    if (rates) fit(rates, ['Trades rate: 9,999.9/s    Liquidations rate: 999.9/min    Klines rate: 99.9/s    OI rate: 999.9/min (expected ~120/min)'], 8);
    this.events.fixChangingLabels();
  }

  render(vm: ViewModel): void {
    for (const key of STATUS_KEYS) {
      const cell = vm.status[key];
      const l = this.status[key];
      setText(l, cell.text, this.texts);
      setColor(l, cell.color, this.colors);
    }
    if (vm.failure) {
      if (!this.panels.isHidden()) this.panels.hide();
      setText(this.failureLabel, `${vm.failure.title}\n\n${vm.failure.body}`, this.texts);
      if (this.failureLabel.isHidden()) this.failureLabel.show();
      return;
    }
    if (!this.failureLabel.isHidden()) this.failureLabel.hide();
    if (this.panels.isHidden()) this.panels.show();
    setText(this.healthHeading, vm.health.heading, this.texts);
    this.healthLines.forEach((l, i) => {
      const line = vm.health.lines[i];
      if (line === undefined) return;
      setText(l, line.text, this.texts);
      setColor(l, line.color, this.colors);
    });
    const detail = vm.health.detail;
    if (detail === null) {
      if (!this.healthDetail.isHidden()) this.healthDetail.hide();
    } else {
      setText(this.healthDetail, detail.text, this.texts);
      setColor(this.healthDetail, detail.color, this.colors);
      if (this.healthDetail.isHidden()) this.healthDetail.show();
    }
    this.symbols.bind(vm.symbols.rows);
    setText(this.failuresHeading, vm.counters.failures.heading, this.texts);
    setText(this.droppedHeading, vm.counters.dropped.heading, this.texts);
    this.failures.bind(vm.counters.failures.grid.rows);
    this.dropped.bind(vm.counters.dropped.grid.rows);
    this.trades.bind(feedCells(vm.trades));
    this.liquidations.bind(feedCells(vm.liquidations));
    this.events.render(vm.events);
    this.unbound = { whySilent: vm.whySilent, beside: { ...vm.beside } };
    this.bindTabs(false);
  }

  /** Binds what the open tab (`all`: every tab) was last given and has not shown yet. */
  private bindTabs(all: boolean): void {
    const open = TAB_KEYS[this.tabs.currentIndex()];
    const why = this.unbound.whySilent;
    if (why !== null && (all || open === WHY_SILENT_TAB)) {
      this.renderWhySilent(why);
      this.unbound.whySilent = null;
    }
    for (const t of BESIDE_TABS) {
      const m = this.unbound.beside[t.panel];
      if (m === undefined || !(all || open === t.key)) continue;
      this.beside[t.panel].bind(m);
      delete this.unbound.beside[t.panel];
    }
  }

  /** Earlier runs' events below this run's (sent once at start; null: none received). */
  showHistory(h: HistoryTable): void {
    if (this.history === null) {
      // Added once the window is laid out, under this run's table or empty state: in the constructor,
      // its table's size hint would re-divide the main splitter's saved proportions.
      this.history = new PanelTab(
        [{ columns: HISTORY_COLUMNS, numeric: [5, 6, 7, 8], fixed: { 0: `lx3k9a1b · 2026-01-06 00:00:00`, 2: LONGEST_SYMBOL } }],
        this.common,
      );
      this.history.tables[0]?.widget.setObjectName('historyTable');
      this.events.addBelow(this.history.widget);
    }
    const model: PanelModel = { title: h.title, lines: [], grids: [h.grid], empty: h.empty };
    this.history.bind(model);
  }

  /** The toasts to show now, newest first (the caller's stack decides which are still due). */
  showToasts(toasts: readonly ToastView[]): void {
    this.toasts.show(toasts);
  }

  /** The names of the widgets Tab visits, in the order Qt's focus chain visits them. */
  tabOrder(): string[] {
    const wanted = new Set(TAB_ORDER);
    const seen: string[] = [];
    const start = this.soundBox as QWidget;
    let w: QWidget = start;
    for (let i = 0; i < 2000; i++) {
      const name = w.objectName();
      if (wanted.has(name) && !seen.includes(name)) seen.push(name);
      w = w.nextInFocusChain();
      if (w.objectName() === start.objectName()) break;
    }
    return seen;
  }

  private renderWhySilent(m: NearMissPanelModel): void {
    setText(this.whySilentTitle, m.title, this.texts);
    setText(this.whySilentLines, m.perSymbol.join('\n'), this.texts);
    this.whySilent.bind(m.rows.map((r) => [r.time, r.symbol, r.stopped, r.flow, r.largest, r.body, r.stress, r.why].map((text) => ({ text, color: r.color }))));
    // Empty text rather than hide(): the tab is usually not the open one, and a hidden tab's child reads as hidden.
    setText(this.whySilentEmpty, m.empty ?? '', this.texts);
  }

  /** Appends the events not shown yet (`newest`: the last of `total` promoted since start, oldest first). */
  addEvents(total: number, newest: readonly PromotedEvent[], symbols: readonly string[], pricePrecision: (symbol: string) => number): number {
    this.events.setSymbols(symbols);
    return this.events.addEvents(total, newest, pricePrecision);
  }

  /** UI-local interactions NodeGui has no signal for (header sort clicks, keyboard row moves). */
  poll(): void {
    this.events.poll();
  }

  /** The layout as it is now (what a restart restores). */
  layout(): Layout {
    const size = this.win.size();
    const h = (w: QWidget): number => w.size().height();
    const wd = (w: QWidget): number => w.size().width();
    return {
      v: 1,
      window: { width: size.width(), height: size.height() },
      main: [h(this.healthBox), h(this.bottom)],
      bottom: [wd(this.feedBox), wd(this.tabs)],
      events: this.events.splitSizes(),
      tab: TAB_KEYS[this.tabs.currentIndex()] ?? EVENTS_TAB,
      columns: this.events.columnWidths(),
      sort: { ...this.log.sort },
    };
  }

  /** Opens the tab with this key (false when there is none). */
  openTab(key: string): boolean {
    const i = TAB_KEYS.indexOf(key);
    if (i >= 0) this.tabs.setCurrentIndex(i);
    return i >= 0;
  }

  readBack(eventRows = 50): WindowTexts {
    // The tabs not open show what they were last given once opened: read back as they would show it.
    this.bindTabs(true);
    const status = {} as WindowTexts['status'];
    for (const key of STATUS_KEYS) status[key] = this.status[key].text();
    const size = this.win.size();
    return {
      status,
      health: {
        heading: this.healthHeading.text(),
        lines: this.healthLines.map((l) => l.text()),
        detail: this.healthDetail.isHidden() ? null : this.healthDetail.text(),
      },
      symbols: { columns: this.symbols.headerTexts(), rows: this.symbols.readBack(), colors: this.symbols.readColors(), fitsWidth: this.symbols.fitsWidth() },
      failures: { heading: this.failuresHeading.text(), rows: this.failures.readBack() },
      dropped: { heading: this.droppedHeading.text(), rows: this.dropped.readBack() },
      trades: this.trades.readBack(),
      liquidations: this.liquidations.readBack(),
      events: this.events.readBack(eventRows),
      tabs: [...TAB_TITLES],
      tab: TAB_KEYS[this.tabs.currentIndex()] ?? '',
      whySilent: {
        title: this.whySilentTitle.text(),
        perSymbol: this.whySilentLines.text(),
        rows: this.whySilent.readBack(),
        colors: this.whySilent.readColors(),
        empty: this.whySilentEmpty.text() === '' ? null : this.whySilentEmpty.text(),
        fitsWidth: this.whySilent.fitsWidth(),
      },
      history: this.history?.readBack() ?? { title: '', lines: '', empty: null, grids: [] },
      beside: {
        tape: this.beside.tape.readBack(),
        books: this.beside.books.readBack(),
        policy: this.beside.policy.readBack(),
        sinks: this.beside.sinks.readBack(),
      },
      toasts: this.toasts.readBack(),
      alertPrefs: { sound: this.soundBox.isChecked(), muted: this.muteBox.isChecked() },
      failure: this.failureLabel.isVisible() ? this.failureLabel.text() : null,
      size: { width: size.width(), height: size.height() },
    };
  }

  /** Save a PNG of the window (widget grab, works on the offscreen platform too). */
  grabPng(path: string): boolean {
    return this.win.grab().save(path, 'PNG');
  }
}
