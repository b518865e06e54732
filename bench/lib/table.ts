/** One row of the results table: a figure of ours beside its floor and its peer, measured in the same run. */
export interface Row {
  section?: string;
  measure: string;
  ours: number;
  floor?: number;
  peer?: number;
  /** Formats a figure. */
  unit: (value: number) => string;
  /** The target, e.g. "≤1.0× floor"; `ok` says whether it holds. */
  target?: string;
  ok?: boolean;
}

const ratio = (a: number, b: number | undefined) =>
  b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0 ? '' : `${(a / b).toFixed(2)}×`;

export function renderTable(rows: Row[], headers: { floor: string; peer: string }): string {
  const head = ['measure', 'ours', headers.floor, headers.peer, 'ours÷floor', 'ours÷peer', 'target', ''];
  const body: string[][] = [];
  for (const row of rows) {
    if (row.section) body.push([`— ${row.section}`, '', '', '', '', '', '', '']);
    body.push([
      `  ${row.measure}`,
      row.unit(row.ours),
      row.floor === undefined ? '' : row.unit(row.floor),
      row.peer === undefined ? '' : row.unit(row.peer),
      ratio(row.ours, row.floor),
      ratio(row.ours, row.peer),
      row.target ?? '',
      row.ok === undefined ? '' : row.ok ? 'holds' : 'MISSES',
    ]);
  }
  return renderMarkdown(head, body, (i) => i > 0 && i < 6);
}

/** A Markdown table padded to line up in a terminal too; `numeric` columns are right-aligned. */
export function renderMarkdown(
  head: string[],
  body: string[][],
  numeric: (column: number) => boolean,
): string {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (numeric(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (numeric(i) ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(head), rule, ...body.map(line)].join('\n');
}

export const fmt = {
  rate: (v: number) => (Number.isFinite(v) ? `${Math.round(v).toLocaleString('en-US')}/s` : 'n/a'),
  ms: (v: number) => (Number.isFinite(v) ? `${v < 10 ? v.toFixed(2) : v.toFixed(1)} ms` : 'n/a'),
  us: (v: number) => (Number.isFinite(v) ? `${v.toFixed(1)} µs` : 'n/a'),
  s: (v: number) => (Number.isFinite(v) ? `${v.toFixed(3)} s` : 'n/a'),
  secs: (v: number) => (Number.isFinite(v) ? `${(v / 1000).toFixed(2)} s` : 'n/a'),
  bytes: (v: number) => (Number.isFinite(v) ? `${Math.round(v).toLocaleString('en-US')} B` : 'n/a'),
  kb: (v: number) => (Number.isFinite(v) ? `${(v / 1024).toFixed(1)} KB` : 'not built'),
  count: (v: number) => (Number.isFinite(v) ? `${Math.round(v)}` : 'n/a'),
};
