/**
 * One tab page bound to a PanelModel (src/widgets/beside-view.ts): heading, summary lines, the
 * empty state, and one CellTable per grid. Binding sets only what changed (CellTable does so per
 * cell, the labels per text). A label with no text is hidden (it would take a line of height);
 * the read-back reads texts, not visibility (a tab that is not open reads its children as hidden).
 */
import { Direction, type QFont, QFontMetrics, QLabel, QWidget, QBoxLayout, TextFormat } from '@nodegui/nodegui';
import type { PanelModel } from './beside-view';
import { CellTable, type CellTableOptions } from './cell-table';

export type GridSpec = Pick<CellTableOptions, 'columns' | 'numeric' | 'fixed'>;

export interface PanelTexts {
  title: string;
  lines: string;
  empty: string | null;
  grids: { columns: string[]; rows: string[][]; colors: string[][]; fitsWidth: boolean }[];
}

export function plainLabel(text = '', objectName?: string): QLabel {
  const l = new QLabel();
  // Plain text: a label's default (AutoText) renders anything that looks like HTML as HTML.
  l.setTextFormat(TextFormat.PlainText);
  l.setText(text);
  l.setTextInteractionFlags(1 /* Qt::TextSelectableByMouse */);
  if (objectName) l.setObjectName(objectName);
  return l;
}

/**
 * Gives a label whose text changes the fixed size of the widest of `samples`. A label that may
 * change size re-lays out its layout, and every layout up to the window's, on each new text (and
 * re-laid-out item views repaint); a fixed-size one only repaints itself. Call once the label is
 * shown, when it carries its style sheet's font.
 */
export function fitToWidest(l: QLabel, samples: readonly string[], pad: number, padHeight = 6): void {
  l.ensurePolished();
  const m = new QFontMetrics(l.font());
  l.setFixedSize(Math.max(...samples.map((x) => m.horizontalAdvance(x))) + pad, m.height() + padHeight);
}

export class PanelTab {
  readonly widget: QWidget;
  readonly tables: CellTable[];
  private readonly title = plainLabel('', 'heading');
  private readonly lines = plainLabel();
  private readonly empty = plainLabel('', 'emptyState');
  private readonly shown = new Map<QLabel, string>();

  constructor(grids: readonly GridSpec[], common: { rowHeight: number; font: QFont }) {
    this.widget = new QWidget();
    const layout = new QBoxLayout(Direction.TopToBottom);
    layout.setContentsMargins(6, 6, 6, 6);
    layout.setSpacing(4);
    this.widget.setLayout(layout);
    this.empty.setWordWrap(true);
    // Summary lines wrap rather than widen the tab beyond 1280 px (they change rarely).
    this.lines.setWordWrap(true);
    layout.addWidget(this.title);
    layout.addWidget(this.lines);
    layout.addWidget(this.empty);
    this.lines.hide();
    this.empty.hide();
    this.tables = grids.map((g) => new CellTable({ ...common, ...g }));
    // Room for the header and a few rows at least; the splitters above decide the rest.
    for (const t of this.tables) t.widget.setMinimumHeight(common.rowHeight * 2 + 26);
    // The first table (the per-symbol one) gets less room than a list of events or buckets below it.
    this.tables.forEach((t, i) => layout.addWidget(t.widget, i === 0 && this.tables.length > 1 ? 2 : 3));
  }

  private set(l: QLabel, text: string): void {
    if (this.shown.get(l) === text) return;
    l.setText(text);
    this.shown.set(l, text);
    if (text === '') l.hide();
    else l.show();
  }

  bind(m: PanelModel): void {
    this.set(this.title, m.title);
    this.set(this.lines, m.lines.join('\n'));
    this.set(this.empty, m.empty ?? '');
    this.tables.forEach((t, i) => t.bind(m.grids[i]?.rows ?? []));
  }

  readBack(): PanelTexts {
    return {
      title: this.title.text(),
      lines: this.lines.text(),
      empty: this.empty.text() === '' ? null : this.empty.text(),
      grids: this.tables.map((t) => ({ columns: t.headerTexts(), rows: t.readBack(), colors: t.readColors(), fitsWidth: t.fitsWidth() })),
    };
  }
}
