/**
 * The Promoted Events tab: heading, the SPEC empty state, a filter bar (text, symbol, stress
 * source), the events table (QTableView over a QAbstractTableModel that reads the EventLog) and a
 * detail pane with every field of the selected event. New events are inserted as rows at their
 * sorted place; only a change of sort or filter rebuilds the display order.
 *
 * NodeGui calls into JavaScript for every index(), flags() and data() request of the view (about
 * eight per visible cell and repaint), so the model answers them from constants and a small cache
 * of the visible rows' texts, and never calls back into Qt for them (QAbstractTableModel's own
 * index() would, twice per cell, through hasIndex → rowCount/columnCount).
 */
import {
  TextFormat,
  AlignmentFlag,
  Direction,
  EditTrigger,
  ItemDataRole,
  ItemFlag,
  Orientation,
  QAbstractItemViewSelectionBehavior,
  QAbstractTableModel,
  QBoxLayout,
  QBrush,
  QColor,
  QComboBox,
  type QFont,
  QFontMetrics,
  type QHeaderView,
  QHeaderViewResizeMode,
  QLabel,
  QLineEdit,
  QModelIndex,
  QPlainTextEdit,
  QSplitter,
  QTableView,
  QVariant,
  QWidget,
  SelectionMode,
  SortOrder,
  type NativeElement,
} from '@nodegui/nodegui';
import type { PromotedEvent, StressSource } from '../core/contracts/promoted';
import { StressSourceSchema } from '../core/contracts/promoted';
import { formatInt } from './format';
import { fitToWidest } from './panel-tab';
import { EVENT_COLUMNS, type EventFilter, type EventLog, type EventRow, type EventSort, eventDetail, NO_FILTER } from './events-model';
import type { EventsHeaderModel } from './view-model';

const FLAGS = ItemFlag.ItemIsSelectable | ItemFlag.ItemIsEnabled | ItemFlag.ItemNeverHasChildren;
const COLUMN_COUNT = EVENT_COLUMNS.length;
/** Display texts kept as Qt variants for this many rows (more than a screen), then dropped. */
const VARIANT_CACHE_ROWS = 256;
export const ALL_SYMBOLS = 'All symbols';
export const ALL_SOURCES = 'All stress sources';

export class EventsTableModel extends QAbstractTableModel {
  private readonly none = new QVariant();
  private readonly root = new QModelIndex();
  private readonly align: QVariant[] = EVENT_COLUMNS.map(
    (c) => new QVariant(c.numeric ? AlignmentFlag.AlignRight | AlignmentFlag.AlignVCenter : AlignmentFlag.AlignLeft | AlignmentFlag.AlignVCenter),
  );
  private readonly headers: QVariant[] = EVENT_COLUMNS.map((c) => new QVariant(c.title));
  private readonly colors = new Map<string, QVariant>();
  private readonly texts = new Map<EventRow, QVariant[]>();
  /** data() calls answered (the benchmark reports them per repaint). */
  dataCalls = 0;

  constructor(readonly log: EventLog) {
    super();
    log.changes = {
      beforeInsert: (pos) => this.beginInsertRows(this.root, pos, pos),
      afterInsert: () => this.endInsertRows(),
      beforeRemove: (pos) => this.beginRemoveRows(this.root, pos, pos),
      afterRemove: () => this.endRemoveRows(),
      beforeReset: () => this.beginResetModel(),
      afterReset: () => {
        this.texts.clear();
        this.endResetModel();
      },
    };
  }

  override rowCount(parent?: QModelIndex): number {
    return parent?.isValid() ? 0 : this.log.size;
  }

  override columnCount(parent?: QModelIndex): number {
    return parent?.isValid() ? 0 : COLUMN_COUNT;
  }

  override index(row: number, column: number): QModelIndex {
    return row >= 0 && row < this.log.size && column >= 0 && column < COLUMN_COUNT ? this.createIndex(row, column) : this.root;
  }

  override parentModelIndex(): QModelIndex {
    return this.root;
  }

  override flags(): ItemFlag {
    return FLAGS;
  }

  private rowTexts(row: EventRow): QVariant[] {
    let v = this.texts.get(row);
    if (v === undefined) {
      if (this.texts.size >= VARIANT_CACHE_ROWS) this.texts.clear();
      v = row.cells.map((c) => new QVariant(c));
      this.texts.set(row, v);
    }
    return v;
  }

  private color(hex: string): QVariant {
    let v = this.colors.get(hex);
    if (v === undefined) {
      v = new QVariant(new QBrush(new QColor(hex)).native as NativeElement);
      this.colors.set(hex, v);
    }
    return v;
  }

  override data(index: QModelIndex, role: number = ItemDataRole.DisplayRole): QVariant {
    this.dataCalls++;
    switch (role) {
      case ItemDataRole.DisplayRole:
      case ItemDataRole.ToolTipRole: {
        const row = this.log.rowAt(index.row());
        return row ? (this.rowTexts(row)[index.column()] ?? this.none) : this.none;
      }
      case ItemDataRole.TextAlignmentRole:
        return this.align[index.column()] ?? this.none;
      case ItemDataRole.ForegroundRole: {
        if (index.column() !== 2) return this.none;
        const row = this.log.rowAt(index.row());
        return row ? this.color(row.sideColor) : this.none;
      }
      default:
        return this.none;
    }
  }

  override headerData(section: number, orientation: Orientation, role: number): QVariant {
    return orientation === Orientation.Horizontal && role === ItemDataRole.DisplayRole ? (this.headers[section] ?? this.none) : this.none;
  }
}

/** What the events tab shows, read back from Qt (the table through the view's model, as the view reads it). */
export interface EventsTexts {
  heading: string;
  note: string;
  emptyState: string | null;
  columns: string[];
  /** Display texts of the first `limit` rows in display order. */
  rows: string[][];
  rowCount: number;
  detail: string;
  filter: { text: string; symbol: string; source: string };
  sort: EventSort;
  fitsWidth: boolean;
}

export class EventsPanel {
  readonly widget: QWidget;
  readonly model: EventsTableModel;
  readonly table: QTableView;
  private readonly header: QHeaderView;
  readonly splitter: QSplitter;
  readonly filterText: QLineEdit;
  readonly symbolBox: QComboBox;
  readonly sourceBox: QComboBox;
  private readonly heading: QLabel;
  private readonly note: QLabel;
  private readonly empty: QLabel;
  private readonly body: QWidget;
  private readonly detail: QPlainTextEdit;
  private readonly outer: QBoxLayout;
  private symbols: readonly string[] = [];
  private selected: number | null = null;
  private lastHeading = '';
  private lastEmpty: string | null = '';
  private total = 0;
  private shownNote = '';

  constructor(
    readonly log: EventLog,
    font: QFont,
    monoFont: QFont,
    /** Table | detail heights to start with (the splitter divides in this proportion). */
    split: readonly [number, number],
  ) {
    const w = new QWidget();
    w.setObjectName('eventsTab');
    const layout = new QBoxLayout(Direction.TopToBottom);
    layout.setContentsMargins(6, 6, 6, 6);
    layout.setSpacing(4);
    w.setLayout(layout);
    this.outer = layout;

    // Plain text, as every label of the window (src/widgets/window.ts label()).
    this.heading = new QLabel();
    this.heading.setTextFormat(TextFormat.PlainText);
    this.heading.setObjectName('heading');
    this.heading.setTextInteractionFlags(1);
    this.note = new QLabel();
    this.note.setTextFormat(TextFormat.PlainText);
    this.note.setObjectName('note');
    const headRow = new QWidget();
    const headLayout = new QBoxLayout(Direction.LeftToRight);
    headLayout.setContentsMargins(0, 0, 0, 0);
    headRow.setLayout(headLayout);
    headLayout.addWidget(this.heading);
    headLayout.addStretch(1);
    headLayout.addWidget(this.note);
    layout.addWidget(headRow);

    // Created in tab order: filter text, symbol, source, table, detail.
    const bar = new QWidget();
    const barLayout = new QBoxLayout(Direction.LeftToRight);
    barLayout.setContentsMargins(0, 0, 0, 0);
    barLayout.setSpacing(6);
    bar.setLayout(barLayout);
    this.filterText = new QLineEdit();
    this.filterText.setObjectName('filterText');
    this.filterText.setPlaceholderText('Filter events (Ctrl+F; Esc clears)');
    this.filterText.setClearButtonEnabled(true);
    this.symbolBox = new QComboBox();
    this.symbolBox.setObjectName('symbolFilter');
    this.symbolBox.addItem(undefined, ALL_SYMBOLS);
    this.sourceBox = new QComboBox();
    this.sourceBox.setObjectName('sourceFilter');
    this.sourceBox.addItem(undefined, ALL_SOURCES);
    for (const src of StressSourceSchema.options) this.sourceBox.addItem(undefined, src);
    barLayout.addWidget(this.filterText, 1);
    barLayout.addWidget(this.symbolBox);
    barLayout.addWidget(this.sourceBox);

    this.model = new EventsTableModel(log);
    const t = new QTableView();
    t.setObjectName('eventsTable');
    t.setFont(font);
    t.setModel(this.model);
    t.setEditTriggers(EditTrigger.NoEditTriggers);
    t.setSelectionBehavior(QAbstractItemViewSelectionBehavior.SelectRows);
    t.setSelectionMode(SelectionMode.SingleSelection);
    t.setWordWrap(false);
    // Grid lines cost about as much to paint as the text (measured: 3.8 → 2.0 ms CPU per render
    // of the whole window without them); alternating rows keep the lines readable.
    t.setShowGrid(false);
    t.setAlternatingRowColors(true);
    t.verticalHeader().hide();
    t.verticalHeader().setSectionResizeMode(QHeaderViewResizeMode.Fixed);
    t.verticalHeader().setDefaultSectionSize(20);
    const header = t.horizontalHeader();
    this.header = header;
    header.setSectionResizeMode(QHeaderViewResizeMode.Interactive);
    header.setStretchLastSection(true);
    header.setSortIndicatorShown(true);
    // Sorting "enabled" makes the header clickable and keep a sort indicator; the model's own sort()
    // is never called by NodeGui, so the panel reads the indicator (poll()) and re-orders the log.
    t.setSortingEnabled(true);
    header.setSortIndicator(log.sort.column, log.sort.descending ? SortOrder.DescendingOrder : SortOrder.AscendingOrder);
    const metrics = new QFontMetrics(font);
    // Padding kept small: at 1280 px the nine columns must fit the tab without scrolling.
    EVENT_COLUMNS.forEach((c, i) => t.setColumnWidth(i, Math.max(metrics.horizontalAdvance(c.sample), metrics.horizontalAdvance(c.title) + 18) + 6));
    this.table = t;

    this.detail = new QPlainTextEdit();
    this.detail.setObjectName('detail');
    this.detail.setReadOnly(true);
    this.detail.setFont(monoFont);
    this.detail.setPlaceholderText('Select an event to see every field.');

    this.splitter = new QSplitter();
    this.splitter.setOrientation(Orientation.Vertical);
    // QSplitter (as NodeGui wraps it) has no setSizes(): it divides its space in proportion to the
    // sizes its children were explicitly given before it first laid them out.
    t.resize(600, Math.max(40, split[0]));
    this.detail.resize(600, Math.max(40, split[1]));
    this.splitter.addWidget(t);
    this.splitter.addWidget(this.detail);
    this.splitter.setCollapsible(0, false);
    this.splitter.setCollapsible(1, false);

    this.body = new QWidget();
    const bodyLayout = new QBoxLayout(Direction.TopToBottom);
    bodyLayout.setContentsMargins(0, 0, 0, 0);
    bodyLayout.setSpacing(4);
    this.body.setLayout(bodyLayout);
    bodyLayout.addWidget(bar);
    bodyLayout.addWidget(this.splitter, 1);
    layout.addWidget(this.body, 1);

    this.empty = new QLabel();
    this.empty.setTextFormat(TextFormat.PlainText);
    this.empty.setObjectName('emptyState');
    this.empty.setFont(monoFont);
    this.empty.setTextInteractionFlags(1);
    this.empty.setAlignment(AlignmentFlag.AlignLeft | AlignmentFlag.AlignTop);
    layout.addWidget(this.empty, 1);

    this.filterText.addEventListener('textChanged', () => this.applyFilter());
    this.symbolBox.addEventListener('currentIndexChanged', () => this.applyFilter());
    this.sourceBox.addEventListener('currentIndexChanged', () => this.applyFilter());
    t.addEventListener('clicked', () => this.poll());
    t.addEventListener('activated', () => this.poll());
    this.widget = w;
  }

  /** Adds a section under this run's events, shown with the table and with the empty state alike (the history of earlier runs). */
  addBelow(w: QWidget): void {
    this.outer.addWidget(w, 1);
  }

  /** The symbols the symbol filter offers (the active universe, in rank order). */
  setSymbols(symbols: readonly string[]): void {
    if (symbols.length === this.symbols.length && symbols.every((s, i) => s === this.symbols[i])) return;
    this.symbols = [...symbols];
    const keep = this.symbolBox.currentText();
    while (this.symbolBox.count() > 1) this.symbolBox.removeItem(1);
    for (const s of symbols) this.symbolBox.addItem(undefined, s);
    const idx = this.symbols.indexOf(keep);
    this.symbolBox.setCurrentIndex(idx >= 0 ? idx + 1 : 0);
  }

  /** Appends the events not shown yet (`newest`: the last of `total` promoted since start, oldest first). */
  addEvents(total: number, newest: readonly PromotedEvent[], pricePrecision: (symbol: string) => number): number {
    const added = this.log.ingest(total, newest, pricePrecision);
    this.total = Math.max(this.total, total);
    this.showNote();
    return added;
  }

  private showNote(): void {
    const note = this.noteText(this.total);
    if (note === this.shownNote) return;
    this.note.setText(note);
    this.shownNote = note;
  }

  render(h: EventsHeaderModel): void {
    if (h.heading !== this.lastHeading) {
      this.heading.setText(h.heading);
      this.lastHeading = h.heading;
    }
    this.total = Math.max(this.total, h.total);
    this.showNote();
    if (h.emptyState !== this.lastEmpty) {
      this.lastEmpty = h.emptyState;
      // The SPEC's empty state stands alone: no heading, no table until something is promoted.
      if (h.emptyState !== null) {
        this.empty.setText(h.emptyState);
        this.body.hide();
        this.heading.hide();
        this.empty.show();
      } else {
        this.empty.hide();
        this.heading.show();
        this.body.show();
      }
    }
  }

  /**
   * The heading's count and the note change with every promotion: both get a fixed size (that of
   * their widest text), or each new text re-lays out the window and the table repaints a second
   * time after the insert (measured: 2 × ~1,000 data() calls per insert instead of 1 ×).
   */
  fixChangingLabels(): void {
    // Heights as the labels had them in the layout (one line, no padding in the style sheet).
    fitToWidest(this.heading, [`=== PROMOTED STRUCTURAL EVENTS (${formatInt(9_999_999)}) ===`], 8, 0);
    fitToWidest(this.note, [this.noteText(9_999_999, 9_999, 10_000)], 8, 0);
  }

  private noteText(total: number, size = this.log.size, rows = this.log.rows): string {
    const parts: string[] = [];
    if (size !== rows) parts.push(`${formatInt(size)} of ${formatInt(rows)} shown`);
    const outside = total - rows;
    if (outside > 0) parts.push(`${formatInt(outside)} older not in the table (all are in debug/audit.jsonl)`);
    return parts.join(' · ');
  }

  private currentFilter(): EventFilter {
    const sym = this.symbolBox.currentIndex();
    const src = this.sourceBox.currentText();
    const source = StressSourceSchema.safeParse(src);
    return {
      symbol: sym > 0 ? (this.symbols[sym - 1] ?? null) : null,
      source: source.success ? (source.data as StressSource) : null,
      text: this.filterText.text().trim(),
    };
  }

  private currentSort(): EventSort {
    const column = this.header.sortIndicatorSection();
    return { column: column >= 0 && column < COLUMN_COUNT ? column : 0, descending: this.header.sortIndicatorOrder() === SortOrder.DescendingOrder };
  }

  private rearrange(sort: EventSort, filter: EventFilter): void {
    if (!this.log.arrange(sort, filter)) return;
    this.showNote();
    // A reset forgets the view's selection: select the same event again where it now is.
    const pos = this.selected === null ? -1 : this.log.positionOf(this.selected);
    if (pos >= 0) this.table.selectRow(pos);
    else this.showDetail(null);
  }

  private applyFilter(): void {
    this.rearrange(this.log.sort, this.currentFilter());
  }

  /** Reads what NodeGui has no signal for: a header click (sort) and keyboard moves of the current row. */
  poll(): void {
    this.rearrange(this.currentSort(), this.log.filter);
    const idx = this.table.currentIndex();
    const row = idx.isValid() ? this.log.rowAt(idx.row()) : undefined;
    if ((row?.ordinal ?? null) !== this.selected) this.showDetail(row ?? null);
  }

  private showDetail(row: EventRow | null): void {
    this.selected = row?.ordinal ?? null;
    this.detail.setPlainText(row ? eventDetail(row) : '');
  }

  clearFilter(): void {
    this.filterText.clear();
    this.symbolBox.setCurrentIndex(0);
    this.sourceBox.setCurrentIndex(0);
    this.rearrange(this.log.sort, NO_FILTER);
  }

  focusFilter(): void {
    this.filterText.setFocus();
    this.filterText.selectAll();
  }

  setSort(sort: EventSort): void {
    this.header.setSortIndicator(sort.column, sort.descending ? SortOrder.DescendingOrder : SortOrder.AscendingOrder);
    this.rearrange(sort, this.log.filter);
  }

  splitSizes(): [number, number] {
    return [this.table.size().height(), this.detail.size().height()];
  }

  columnWidths(): number[] {
    return EVENT_COLUMNS.map((_, i) => this.table.columnWidth(i));
  }

  setColumnWidths(widths: readonly number[]): void {
    widths.forEach((w, i) => {
      if (i < COLUMN_COUNT - 1) this.table.setColumnWidth(i, w);
    });
  }

  readBack(limit = 50): EventsTexts {
    const rows: string[][] = [];
    const n = Math.min(limit, this.model.rowCount());
    for (let r = 0; r < n; r++) {
      const cells: string[] = [];
      for (let c = 0; c < COLUMN_COUNT; c++) cells.push(this.model.index(r, c).data(ItemDataRole.DisplayRole).toString());
      rows.push(cells);
    }
    const header = this.header;
    return {
      heading: this.heading.isVisible() ? this.heading.text() : '',
      note: this.note.text(),
      emptyState: this.empty.isVisible() ? this.empty.text() : null,
      columns: EVENT_COLUMNS.map((_, c) => this.model.headerData(c, Orientation.Horizontal, ItemDataRole.DisplayRole).toString()),
      rows,
      rowCount: this.model.rowCount(),
      detail: this.detail.toPlainText(),
      filter: { text: this.filterText.text(), symbol: this.symbolBox.currentText(), source: this.sourceBox.currentText() },
      sort: this.currentSort(),
      fitsWidth: !this.body.isVisible() || header.length() <= this.table.viewport().size().width() + 1,
    };
  }
}
