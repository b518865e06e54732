// Summarises a .cpuprofile written by `node --cpu-prof`: self time by function and by file or
// package, so a hot path can be named with numbers. Usage: node --import tsx bench/profile-summary.ts FILE [N]
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

export function summarise(path: string, top = 25): string {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const fn = new Map<string, number>();
  const file = new Map<string, number>();
  for (const [id, us] of self) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const where = shorten(url);
    fn.set(
      `${functionName || '(anonymous)'} ${where}:${lineNumber + 1}`,
      (fn.get(`${functionName || '(anonymous)'} ${where}:${lineNumber + 1}`) ?? 0) + us,
    );
    const group = packageOf(url) || functionName;
    file.set(group, (file.get(group) ?? 0) + us);
  }
  const fmt = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, us]) => `${((us / total) * 100).toFixed(1).padStart(5)}%  ${k}`)
      .join('\n');
  return `total ${(total / 1e6).toFixed(2)} s sampled\n-- self time by package/file\n${fmt(file)}\n-- self time by function\n${fmt(fn)}`;
}

function shorten(url: string): string {
  return url
    .replace(/^file:\/\//, '')
    .replace(/^.*\/node_modules\//, '~/')
    .replace(/^.*\/work\/main\//, '');
}

function packageOf(url: string): string {
  if (!url) return '';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  if (url.startsWith('node:')) return url;
  return shorten(url);
}

if (process.argv[1]?.endsWith('profile-summary.ts')) {
  console.log(summarise(process.argv[2]!, Number(process.argv[3] ?? 25)));
}
