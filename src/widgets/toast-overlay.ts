/**
 * The in-app toasts (SPEC §21): non-modal labels stacked at the top right of the window, over the
 * panels, newest on top. They take no focus and block nothing; each goes when the stack's clock
 * says so (src/alerts/toasts.ts, driven by the caller's `now`) or when clicked. The overlay binds
 * ToastViews and computes nothing.
 */
import { Direction, QBoxLayout, QLabel, QWidget, TextFormat, WidgetEventTypes } from '@nodegui/nodegui';
import { toastText, type ToastView } from './alerts-view';
import { COLORS } from './view-model';

/** As many labels as the stack shows at most (DEFAULT_TOAST_OPTIONS.maxVisible). */
const SLOTS = 4;
const WIDTH = 380;
const MARGIN = 12;

export class ToastOverlay {
  readonly widget: QWidget;
  private readonly slots: { label: QLabel; id: number | null; text: string; color: string }[] = [];
  /** Ids of the toasts shown, in order (a toast's text never changes). */
  private shownKey = '';

  constructor(
    private readonly parent: QWidget,
    onDismiss: (id: number) => void,
    /** How far from the parent's top the stack starts. */
    private readonly top: () => number,
  ) {
    this.widget = new QWidget(parent);
    this.widget.setObjectName('toasts');
    const layout = new QBoxLayout(Direction.TopToBottom);
    layout.setContentsMargins(0, 0, 0, 0);
    layout.setSpacing(6);
    this.widget.setLayout(layout);
    for (let i = 0; i < SLOTS; i++) {
      const label = new QLabel();
      label.setTextFormat(TextFormat.PlainText);
      label.setWordWrap(true);
      label.setFixedWidth(WIDTH);
      label.setObjectName('toast');
      label.hide();
      const slot = { label, id: null as number | null, text: '', color: '' };
      label.addEventListener(WidgetEventTypes.MouseButtonRelease, () => {
        if (slot.id !== null) onDismiss(slot.id);
      });
      layout.addWidget(label);
      this.slots.push(slot);
    }
    this.widget.hide();
  }

  /** Shows these toasts (newest first); the rest of the slots are hidden. Called every render: the same stack again costs nothing. */
  show(toasts: readonly ToastView[]): void {
    const key = toasts.map((t) => t.id).join(',');
    if (key === this.shownKey) return;
    this.shownKey = key;
    this.slots.forEach((slot, i) => {
      const t = toasts[i];
      if (t === undefined) {
        if (slot.id !== null) slot.label.hide();
        slot.id = null;
        return;
      }
      const text = toastText(t);
      if (slot.text !== text) slot.label.setText(text);
      if (slot.color !== t.color)
        slot.label.setStyleSheet(
          `background-color: #2d2d30; color: ${COLORS.text}; border: 1px solid ${t.color}; border-left: 6px solid ${t.color}; padding: 6px 8px; font-size: 12px;`,
          false,
        );
      if (slot.id === null) slot.label.show();
      slot.id = t.id;
      slot.text = text;
      slot.color = t.color;
    });
    if (toasts.length === 0) {
      if (this.widget.isVisible()) this.widget.hide();
      return;
    }
    this.place();
    if (!this.widget.isVisible()) this.widget.show();
    this.widget.raise();
  }

  /** At the parent's top right (called again when the window is resized). */
  place(): void {
    if (this.shownKey === '') return;
    this.widget.adjustSize();
    const w = this.parent.size().width();
    this.widget.move(Math.max(0, w - WIDTH - MARGIN), this.top());
  }

  /** Texts of the toasts shown, newest first. */
  readBack(): { text: string; color: string }[] {
    return this.slots.filter((s) => s.id !== null && !s.label.isHidden()).map((s) => ({ text: s.label.text(), color: s.color }));
  }
}
