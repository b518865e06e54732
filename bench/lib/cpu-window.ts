// Reads a `node --cpu-prof` profile and attributes only the samples taken inside a time window,
// so start-up, connecting and warm-up do not blur what the steady state costs.
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
}

/**
 * CLOCK_MONOTONIC µs, the clock of the profile's timestamps: `process.hrtime.bigint() / 1000n`
 * taken in any process on this machine.
 */
export interface TimeWindow {
  from: bigint;
  to: bigint;
}

export interface WindowedProfile {
  /** Self time in µs by package, our file, or native function (idle left out). */
  self: Map<string, number>;
  /** µs of samples with a frame matching `under` on their stack. */
  under: number;
}

/** Where a frame's self time is counted: its package, else our file, else the native function. */
function group({ url, functionName }: CallFrame): string {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
  if (pkg) return pkg;
  if (url.startsWith('file:')) return url.replace(/^file:\/\/.*?\/(bench|server|protocol)\//, '$1/');
  return url || functionName;
}

export function readWindow(
  path: string,
  window: TimeWindow,
  under: (frame: CallFrame) => boolean,
): WindowedProfile {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const self = new Map<string, number>();
  let inside = 0;
  let at = BigInt(profile.startTime);
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    at += BigInt(delta);
    if (at < window.from || at > window.to) return;
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === '(idle)') return;
    const key = group(frame);
    self.set(key, (self.get(key) ?? 0) + delta);
    for (let node: number | undefined = id; node !== undefined; node = parent.get(node)) {
      if (under(byId.get(node)!.callFrame)) {
        inside += delta;
        break;
      }
    }
  });
  return { self, under: inside };
}
