/**
 * The NodeGui window (SPEC §9 layout): status row across the top; left column = System Health
 * (top) and Raw Market Feed (trades, liquidations); right column = Promoted Events. It binds a
 * ViewModel and nothing else — no control in it can change any state; text can be selected and
 * copied. Loaded only on the main thread, only after the platform check in src/app/main.ts.
 */
import {
  AlignmentFlag,
  TextFormat,
  Direction,
  EditTrigger,
  QAbstractItemViewSelectionBehavior,
  QBoxLayout,
  QBrush,
  QColor,
  QFont,
  QGroupBox,
  QHeaderViewResizeMode,
  QLabel,
  QMainWindow,
  QPlainTextEdit,
  QTableWidget,
  QTableWidgetItem,
  QWidget,
  WidgetEventTypes,
} from '@nodegui/nodegui';
import { COLORS, type StatusBarModel, type TableRow, type ViewModel } from './view-model';

const ROWS = 20;
const COLUMNS = ['Time', 'Symbol', 'Price', 'Qty', 'Side'] as const;
const STATUS_KEYS = ['mode', 'symbols', 'baselines', 'health', 'windows', 'events', 'lastUpdate'] as const satisfies readonly (keyof StatusBarModel)[];

/** What the window currently shows, read back from the Qt widgets themselves. */
export interface WindowTexts {
  status: Record<(typeof STATUS_KEYS)[number], string>;
  health: string;
  events: string;
  trades: string[][];
  liquidations: string[][];
  failure: string | null;
  size: { width: number; height: number };
}

class FeedTable {
  readonly widget: QTableWidget;
  private readonly items: QTableWidgetItem[][] = [];
  private readonly brushes = new Map<string, QBrush>();

  constructor() {
    const t = new QTableWidget(ROWS, COLUMNS.length);
    t.setHorizontalHeaderLabels([...COLUMNS]);
    t.setEditTriggers(EditTrigger.NoEditTriggers);
    t.setSelectionBehavior(QAbstractItemViewSelectionBehavior.SelectRows);
    t.verticalHeader().hide();
    t.horizontalHeader().setSectionResizeMode(QHeaderViewResizeMode.Stretch);
    t.verticalHeader().setDefaultSectionSize(20);
    for (let r = 0; r < ROWS; r++) {
      const row: QTableWidgetItem[] = [];
      for (let c = 0; c < COLUMNS.length; c++) {
        const item = new QTableWidgetItem('');
        if (c >= 2 && c <= 3) item.setTextAlignment(AlignmentFlag.AlignRight | AlignmentFlag.AlignVCenter);
        t.setItem(r, c, item);
        row.push(item);
      }
      this.items.push(row);
    }
    this.widget = t;
  }

  private brush(color: string): QBrush {
    let b = this.brushes.get(color);
    if (!b) {
      b = new QBrush(new QColor(color));
      this.brushes.set(color, b);
    }
    return b;
  }

  bind(rows: readonly TableRow[]): void {
    for (let r = 0; r < ROWS; r++) {
      const row = rows[r];
      const cells = row ? [row.time, row.symbol, row.price, row.qty, row.side] : ['', '', '', '', ''];
      const items = this.items[r] as QTableWidgetItem[];
      for (let c = 0; c < COLUMNS.length; c++) {
        const item = items[c] as QTableWidgetItem;
        if (item.text() !== cells[c]) item.setText(cells[c] as string);
      }
      if (row) (items[4] as QTableWidgetItem).setForeground(this.brush(row.sideColor));
    }
  }

  readBack(): string[][] {
    const out: string[][] = [];
    for (let r = 0; r < ROWS; r++) {
      const cells: string[] = [];
      for (let c = 0; c < COLUMNS.length; c++) cells.push(this.widget.item(r, c).text());
      if (cells.some((x) => x !== '')) out.push(cells);
    }
    return out;
  }
}

function textPanel(): QPlainTextEdit {
  const p = new QPlainTextEdit();
  p.setReadOnly(true);
  p.setFont(new QFont('DejaVu Sans Mono', 10));
  return p;
}

export class PeakPressureWindow {
  readonly win: QMainWindow;
  private readonly status = {} as Record<(typeof STATUS_KEYS)[number], QLabel>;
  private readonly health: QPlainTextEdit;
  private readonly events: QPlainTextEdit;
  private readonly trades = new FeedTable();
  private readonly liquidations = new FeedTable();
  private readonly panels: QWidget;
  private readonly failureLabel: QLabel;
  private lastHealth = '';
  private lastEvents = '';

  constructor(onClose: () => void) {
    const win = new QMainWindow();
    win.setWindowTitle('Peak Pressure — Binance USDⓈ-M observer');
    win.resize(1600, 1000);
    win.setMinimumSize(1024, 700);
    const root = new QWidget();
    root.setObjectName('root');
    const rootLayout = new QBoxLayout(Direction.TopToBottom);
    root.setLayout(rootLayout);

    const statusRow = new QWidget();
    statusRow.setObjectName('status');
    const statusLayout = new QBoxLayout(Direction.LeftToRight);
    statusRow.setLayout(statusLayout);
    for (const key of STATUS_KEYS) {
      const l = new QLabel();
      // Plain text: a label's default (AutoText) renders anything that looks like HTML as HTML.
      l.setTextFormat(TextFormat.PlainText);
      l.setText(key === 'mode' ? 'Mode: LOADING...' : '');
      l.setTextInteractionFlags(1 /* Qt::TextSelectableByMouse */);
      // The symbol list is the one long item: let it wrap rather than be cut at 1280 px.
      if (key === 'symbols') l.setWordWrap(true);
      statusLayout.addWidget(l, key === 'symbols' ? 4 : 1);
      this.status[key] = l;
    }
    rootLayout.addWidget(statusRow);

    this.panels = new QWidget();
    const columns = new QBoxLayout(Direction.LeftToRight);
    this.panels.setLayout(columns);

    const left = new QWidget();
    const leftLayout = new QBoxLayout(Direction.TopToBottom);
    left.setLayout(leftLayout);
    const healthBox = new QGroupBox();
    healthBox.setTitle('System Health');
    const healthLayout = new QBoxLayout(Direction.TopToBottom);
    healthBox.setLayout(healthLayout);
    this.health = textPanel();
    healthLayout.addWidget(this.health);
    leftLayout.addWidget(healthBox, 5);

    const feedBox = new QGroupBox();
    feedBox.setTitle('Raw Market Feed');
    const feedLayout = new QBoxLayout(Direction.TopToBottom);
    feedBox.setLayout(feedLayout);
    const tradesLabel = new QLabel();
    tradesLabel.setText('Trades (newest first)');
    const liqLabel = new QLabel();
    liqLabel.setText('Liquidations (newest first)');
    feedLayout.addWidget(tradesLabel);
    feedLayout.addWidget(this.trades.widget, 1);
    feedLayout.addWidget(liqLabel);
    feedLayout.addWidget(this.liquidations.widget, 1);
    leftLayout.addWidget(feedBox, 7);

    const eventsBox = new QGroupBox();
    eventsBox.setTitle('Promoted Events');
    const eventsLayout = new QBoxLayout(Direction.TopToBottom);
    eventsBox.setLayout(eventsLayout);
    this.events = textPanel();
    eventsLayout.addWidget(this.events);

    columns.addWidget(left, 3);
    columns.addWidget(eventsBox, 2);
    rootLayout.addWidget(this.panels, 1);

    this.failureLabel = new QLabel();
    this.failureLabel.setObjectName('failure');
    // The failure text quotes error details: never interpreted as HTML.
    this.failureLabel.setTextFormat(TextFormat.PlainText);
    this.failureLabel.setWordWrap(true);
    this.failureLabel.setAlignment(AlignmentFlag.AlignCenter);
    this.failureLabel.setTextInteractionFlags(1);
    this.failureLabel.hide();
    rootLayout.addWidget(this.failureLabel, 1);

    root.setStyleSheet(`
      #root { background-color: ${COLORS.background}; }
      QLabel { color: ${COLORS.text}; font-size: 13px; }
      #status { background-color: #000000; }
      #status QLabel { font-weight: bold; padding: 2px 4px; font-size: 12px; }
      QGroupBox { color: ${COLORS.text}; font-weight: bold; border: 1px solid #3c3c3c; margin-top: 14px; }
      QGroupBox::title { subcontrol-origin: margin; left: 8px; padding: 0 4px; }
      QPlainTextEdit { background-color: ${COLORS.panel}; color: ${COLORS.text}; border: none; }
      QTableWidget { background-color: ${COLORS.panel}; color: ${COLORS.text}; gridline-color: #3c3c3c; font-family: 'DejaVu Sans Mono'; font-size: 12px; }
      QHeaderView::section { background-color: #333333; color: ${COLORS.text}; border: none; padding: 2px; }
      #failure { color: ${COLORS.red}; font-size: 20px; font-weight: bold; background-color: #2b0000; padding: 40px; }
    `);
    win.setCentralWidget(root);
    win.addEventListener(WidgetEventTypes.Close, onClose);
    this.win = win;
  }

  show(): void {
    this.win.show();
  }

  render(vm: ViewModel): void {
    for (const key of STATUS_KEYS) {
      const cell = vm.status[key];
      const label = this.status[key];
      if (label.text() !== cell.text) label.setText(cell.text);
      label.setStyleSheet(`color: ${cell.color};`);
    }
    if (vm.failure) {
      this.panels.hide();
      this.failureLabel.setText(`${vm.failure.title}\n\n${vm.failure.body}`);
      this.failureLabel.show();
      return;
    }
    this.failureLabel.hide();
    this.panels.show();
    // Resetting unchanged text would move the user's scroll position and selection.
    if (vm.health !== this.lastHealth) {
      this.health.setPlainText(vm.health);
      this.lastHealth = vm.health;
    }
    if (vm.events !== this.lastEvents) {
      this.events.setPlainText(vm.events);
      this.lastEvents = vm.events;
    }
    this.trades.bind(vm.trades);
    this.liquidations.bind(vm.liquidations);
  }

  readBack(): WindowTexts {
    const status = {} as WindowTexts['status'];
    for (const key of STATUS_KEYS) status[key] = this.status[key].text();
    const size = this.win.size();
    return {
      status,
      health: this.health.toPlainText(),
      events: this.events.toPlainText(),
      trades: this.trades.readBack(),
      liquidations: this.liquidations.readBack(),
      failure: this.failureLabel.isVisible() ? this.failureLabel.text() : null,
      size: { width: size.width(), height: size.height() },
    };
  }

  /** Save a PNG of the window (widget grab, works on the offscreen platform too). */
  grabPng(path: string): boolean {
    return this.win.grab().save(path, 'PNG');
  }
}
