/**
 * A small read-only table of coloured text cells (QTableWidget: the items live in Qt, so a repaint
 * costs no JavaScript). Binding sets only what changed, so an unchanged cell is never touched and
 * the user's selection stays. Used for the per-symbol grid, the counter tables and the raw feed.
 */
import {
  AlignmentFlag,
  EditTrigger,
  QAbstractItemViewSelectionBehavior,
  QBrush,
  QColor,
  type QFont,
  QFontMetrics,
  QHeaderViewResizeMode,
  QTableWidget,
  QTableWidgetItem,
  ScrollBarPolicy,
} from '@nodegui/nodegui';
import type { Cell } from './view-model';

/** #rrggbb of a Qt colour (QColor.name() is not wrapped by NodeGui). */
export function hex(c: QColor): string {
  return `#${[c.red(), c.green(), c.blue()].map((v) => v.toString(16).padStart(2, '0')).join('')}`;
}

export interface CellTableOptions {
  columns: readonly string[];
  /** Columns shown right-aligned (numbers). */
  numeric?: readonly number[];
  /** Rows created up front (a fixed-height table such as the raw feed). */
  rows?: number;
  rowHeight: number;
  font: QFont;
  /**
   * Columns of a fixed width that fits this sample text (by the font's metrics); the others share
   * the rest. Not ResizeToContents: that re-measures the column on every cell change (measured:
   * 100 setText calls cost 0.3–0.7 ms with stretched columns, 2.4–3.2 ms with one such column).
   */
  fixed?: Readonly<Record<number, string>>;
}

export class CellTable {
  readonly widget: QTableWidget;
  private readonly items: QTableWidgetItem[][] = [];
  private readonly shownText: string[][] = [];
  private readonly shownColor: string[][] = [];
  private readonly brushes = new Map<string, QBrush>();
  private readonly numeric: ReadonlySet<number>;

  constructor(private readonly opts: CellTableOptions) {
    const t = new QTableWidget(0, opts.columns.length);
    t.setHorizontalHeaderLabels([...opts.columns]);
    t.setEditTriggers(EditTrigger.NoEditTriggers);
    t.setSelectionBehavior(QAbstractItemViewSelectionBehavior.SelectRows);
    t.setHorizontalScrollBarPolicy(ScrollBarPolicy.ScrollBarAlwaysOff);
    t.verticalHeader().hide();
    t.verticalHeader().setSectionResizeMode(QHeaderViewResizeMode.Fixed);
    t.verticalHeader().setDefaultSectionSize(opts.rowHeight);
    t.setFont(opts.font);
    t.setWordWrap(false);
    // Grid lines cost about as much to paint as the text; alternating rows keep the rows apart.
    t.setShowGrid(false);
    t.setAlternatingRowColors(true);
    const header = t.horizontalHeader();
    header.setSectionResizeMode(QHeaderViewResizeMode.Stretch);
    const metrics = new QFontMetrics(opts.font);
    for (const [col, sample] of Object.entries(opts.fixed ?? {})) {
      header.setSectionResizeMode(Number(col), QHeaderViewResizeMode.Fixed);
      t.setColumnWidth(Number(col), Math.max(metrics.horizontalAdvance(sample), metrics.horizontalAdvance(opts.columns[Number(col)] ?? '')) + 14);
    }
    this.numeric = new Set(opts.numeric ?? []);
    this.widget = t;
    this.ensureRows(opts.rows ?? 0);
  }

  private brush(color: string): QBrush {
    let b = this.brushes.get(color);
    if (!b) {
      b = new QBrush(new QColor(color));
      this.brushes.set(color, b);
    }
    return b;
  }

  private ensureRows(n: number): void {
    const cols = this.opts.columns.length;
    if (this.items.length === n) return;
    this.widget.setRowCount(n);
    while (this.items.length > n) {
      this.items.pop();
      this.shownText.pop();
      this.shownColor.pop();
    }
    for (let r = this.items.length; r < n; r++) {
      const row: QTableWidgetItem[] = [];
      for (let c = 0; c < cols; c++) {
        const item = new QTableWidgetItem('');
        if (this.numeric.has(c)) item.setTextAlignment(AlignmentFlag.AlignRight | AlignmentFlag.AlignVCenter);
        this.widget.setItem(r, c, item);
        row.push(item);
      }
      this.items.push(row);
      this.shownText.push(new Array<string>(cols).fill(''));
      this.shownColor.push(new Array<string>(cols).fill(''));
    }
  }

  /** Shows `rows`; a table made with `rows` keeps that many and blanks the rest. */
  bind(rows: readonly (readonly Cell[])[]): void {
    const n = this.opts.rows ?? rows.length;
    this.ensureRows(n);
    const cols = this.opts.columns.length;
    for (let r = 0; r < n; r++) {
      const row = rows[r];
      const items = this.items[r] as QTableWidgetItem[];
      const texts = this.shownText[r] as string[];
      const colors = this.shownColor[r] as string[];
      for (let c = 0; c < cols; c++) {
        const cell = row?.[c];
        const text = cell?.text ?? '';
        const item = items[c] as QTableWidgetItem;
        if (texts[c] !== text) {
          item.setText(text);
          texts[c] = text;
        }
        if (cell && colors[c] !== cell.color) {
          item.setForeground(this.brush(cell.color));
          colors[c] = cell.color;
        }
      }
    }
  }

  /** Texts as Qt holds them; rows that are entirely empty are left out. */
  readBack(): string[][] {
    const out: string[][] = [];
    const cols = this.opts.columns.length;
    for (let r = 0; r < this.widget.rowCount(); r++) {
      const cells: string[] = [];
      for (let c = 0; c < cols; c++) cells.push(this.widget.item(r, c).text());
      if (cells.some((x) => x !== '')) out.push(cells);
    }
    return out;
  }

  /** Foreground colours as Qt holds them (#rrggbb, lower case), same rows as readBack(). */
  readColors(): string[][] {
    const out: string[][] = [];
    const cols = this.opts.columns.length;
    for (let r = 0; r < this.widget.rowCount(); r++) {
      const texts: string[] = [];
      const colors: string[] = [];
      for (let c = 0; c < cols; c++) {
        const item = this.widget.item(r, c);
        texts.push(item.text());
        colors.push(hex(item.foreground().color()));
      }
      if (texts.some((x) => x !== '')) out.push(colors);
    }
    return out;
  }

  headerTexts(): string[] {
    return [...this.opts.columns];
  }

  /** A horizontal scroll bar would mean the columns do not fit (it is turned off: content elides instead). */
  fitsWidth(): boolean {
    const header = this.widget.horizontalHeader();
    return header.length() <= this.widget.viewport().size().width() + 1;
  }
}
