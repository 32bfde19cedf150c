/**
 * The window's tabs and keyboard order, without Qt (tests import these before NodeGui may load).
 */
import type { ViewModel } from './view-model';

export const EVENTS_TAB = 'events';
export const WHY_SILENT_TAB = 'why-silent';
/** The tabs for what runs beside M3, in tab order: key (saved layout), title, the view-model's panel. */
export const BESIDE_TABS = [
  { key: 'liquidation-tape', title: 'Liquidation tape', panel: 'tape' },
  { key: 'order-books', title: 'Order books', panel: 'books' },
  { key: 'four-pillars', title: 'Four pillars', panel: 'policy' },
  { key: 'sinks', title: 'Sinks', panel: 'sinks' },
] as const satisfies readonly { key: string; title: string; panel: keyof ViewModel['beside'] }[];
/** Tab keys in tab order (the saved layout names the open tab by its key). */
export const TAB_KEYS: readonly string[] = [EVENTS_TAB, WHY_SILENT_TAB, ...BESIDE_TABS.map((t) => t.key)];
export const TAB_TITLES: readonly string[] = ['Promoted Events', 'Why silent?', ...BESIDE_TABS.map((t) => t.title)];
/**
 * The keyboard's Tab order through the window (object names; read back from Qt's focus chain).
 * NodeGui has no setTabOrder(): Qt chains widgets in the order they join the window, so the
 * constructor builds them in this order.
 */
export const TAB_ORDER: readonly string[] = [
  'alertSound',
  'alertMute',
  'symbolGrid',
  'failuresTable',
  'droppedTable',
  'tradesTable',
  'liquidationsTable',
  'tabs',
  'filterText',
  'symbolFilter',
  'sourceFilter',
  'eventsTable',
  'detail',
  'historyTable',
];
