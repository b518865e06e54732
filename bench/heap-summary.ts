// Summarises a .heapsnapshot: self size and count by constructor, so memory per connection can
// be attributed. Usage: node --import tsx bench/heap-summary.ts FILE [divide-by]
import { readFileSync } from 'node:fs';

/** Count and self size of a snapshot's objects and closures, by constructor (or function) name. */
export function heapCounts(path: string): Map<string, { count: number; size: number }> {
  const snap = JSON.parse(readFileSync(path, 'utf8'));
  const fields: string[] = snap.snapshot.meta.node_fields;
  const types: string[] = snap.snapshot.meta.node_types[0];
  const n = fields.length;
  const iType = fields.indexOf('type');
  const iName = fields.indexOf('name');
  const iSize = fields.indexOf('self_size');
  const nodes: number[] = snap.nodes;
  const strings: string[] = snap.strings;
  const agg = new Map<string, { count: number; size: number }>();
  for (let i = 0; i < nodes.length; i += n) {
    const type = types[nodes[i + iType]!]!;
    const name = type === 'object' || type === 'closure' ? strings[nodes[i + iName]!]! : `(${type})`;
    const key = type === 'closure' ? `closure ${name}` : name;
    const a = agg.get(key) ?? { count: 0, size: 0 };
    a.count += 1;
    a.size += nodes[i + iSize]!;
    agg.set(key, a);
  }
  return agg;
}

export function heapSummary(path: string, per = 1, top = 40): string {
  const agg = heapCounts(path);
  return [...agg]
    .sort((a, b) => b[1].size - a[1].size)
    .slice(0, top)
    .map(
      ([k, a]) =>
        `${(a.size / per).toFixed(0).padStart(7)} B/conn ${(a.count / per).toFixed(2).padStart(7)} /conn  ${k}`,
    )
    .join('\n');
}

if (process.argv[1]?.endsWith('heap-summary.ts'))
  console.log(heapSummary(process.argv[2]!, Number(process.argv[3] ?? 1)));

/** (b − a) / per, by constructor: what each extra connection adds. */
export function heapDiff(a: string, b: string, per: number, top = 30): string {
  const parse = (path: string) => {
    const snap = JSON.parse(readFileSync(path, 'utf8'));
    const fields: string[] = snap.snapshot.meta.node_fields;
    const types: string[] = snap.snapshot.meta.node_types[0];
    const n = fields.length;
    const [iType, iName, iSize] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f)) as [
      number,
      number,
      number,
    ];
    const agg = new Map<string, { count: number; size: number }>();
    for (let i = 0; i < snap.nodes.length; i += n) {
      const type = types[snap.nodes[i + iType]]!;
      const name =
        type === 'object' || type === 'closure' ? snap.strings[snap.nodes[i + iName]] : `(${type})`;
      const key = type === 'closure' ? `closure ${name}` : name;
      const e = agg.get(key) ?? { count: 0, size: 0 };
      e.count += 1;
      e.size += snap.nodes[i + iSize];
      agg.set(key, e);
    }
    return agg;
  };
  const A = parse(a);
  const B = parse(b);
  const rows = [...B].map(
    ([k, v]) =>
      [k, (v.size - (A.get(k)?.size ?? 0)) / per, (v.count - (A.get(k)?.count ?? 0)) / per] as const,
  );
  const total = rows.reduce((s, r) => s + r[1], 0);
  return (
    `total ${total.toFixed(0)} B/conn\n` +
    rows
      .sort((x, y) => y[1] - x[1])
      .slice(0, top)
      .map(([k, s, c]) => `${s.toFixed(0).padStart(7)} B/conn ${c.toFixed(2).padStart(6)} /conn  ${k}`)
      .join('\n')
  );
}
