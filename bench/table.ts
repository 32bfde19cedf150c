/** Tables as GitHub markdown: readable in a terminal and pasted unchanged into the README. */
import type { Table } from './types';

export function renderTable(t: Table): string {
  const widths = t.columns.map((c, i) => Math.max(c.length, ...t.rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i] as number)).join(' | ')} |`;
  const sep = `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`;
  return [`**${t.title}**`, '', line(t.columns), sep, ...t.rows.map(line)].join('\n');
}
