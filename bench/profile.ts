// Profiles behind BENCHMARKS.md, by hand (not part of npm run bench):
//   node --import tsx bench/profile.ts ingest            CPU µs per status POST by package: bare Hono vs ours
//   node --import tsx bench/profile.ts fanout [tasks]    CPU µs per delivery at the fixed rate: bare ws vs ours
//   node --import tsx bench/profile.ts heap [kind]       heap added per idle subscribed connection, by constructor
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { FANOUT_LAYOUTS, type FanoutLayout } from './fanout.js';
import { heapDiff } from './heap-summary.js';
import { STATUS_BODY } from './ingest.js';
import { readWindow, type TimeWindow, type WindowedProfile } from './lib/cpu-window.js';
import { startChild } from './lib/ipc.js';
import { startBenchServer, type AnyServerKind } from './lib/servers.js';
import { BenchAgent } from './load/agent.js';
import type { ServerKind } from './load/subscriber.js';

const [mode = 'ingest', arg] = process.argv.slice(2);

function profileDir(name: string): string {
  const dir = `/tmp/ats-profile-${name}`;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  return dir;
}

function mainProfile(dir: string): string {
  // --cpu-prof writes one file per thread; tsx's loader thread sorts after the main one.
  return `${dir}/${
    readdirSync(dir)
      .filter((f) => f.endsWith('.cpuprofile'))
      .sort()[0]
  }`;
}

/** Self time per request, by package (or our file), of the samples in `window` (idle left out). */
function perRequest(path: string, requests: number, window: TimeWindow): Map<string, number> {
  const { self } = readWindow(path, window, () => false);
  return new Map([...self].map(([key, us]) => [key, us / requests]));
}

async function ingestProfile(kind: AnyServerKind) {
  const dir = profileDir(kind);
  const server = await startBenchServer(kind, {
    env: { STORE: 'memory' },
    execArgv: ['--cpu-prof', `--cpu-prof-dir=${dir}`],
  });
  const agent = new BenchAgent(server.port, 4);
  const tasks = [];
  for (let i = 0; i < 64; i += 1) tasks.push(await agent.createTask(`p-${i}`));
  for (const t of tasks) await agent.post(t, { phase: 'running' });
  writeFileSync(
    `${dir}/post.lua`,
    `local tasks = { ${tasks.map((t) => `{"/api/agent-tasks/${t.id}/status","Bearer ${t.token}"}`).join(',')} }
local i = 0
request = function() i = i + 1; local t = tasks[(i % #tasks) + 1]; return wrk.format("POST", t[1], { ["Content-Type"] = "application/json", ["Authorization"] = t[2] }, ${JSON.stringify(JSON.stringify(STATUS_BODY))}) end`,
  );
  const wrk = (seconds: number) =>
    spawnSync('wrk', [
      '-t1',
      '-c16',
      `-d${seconds}s`,
      '-s',
      `${dir}/post.lua`,
      `http://127.0.0.1:${server.port}`,
    ]).stdout.toString();
  // Warm up first and count only the samples of the measured run: start-up (module loading,
  // compiling) is not what wrk's steady state pays per request.
  wrk(2);
  const from = process.hrtime.bigint() / 1000n;
  const out = wrk(8);
  const to = process.hrtime.bigint() / 1000n;
  agent.close();
  await server.stop();
  const requests = Number(/(\d+) requests in/.exec(out)![1]);
  // For a closer look by function: the profile, and which samples and how many requests count.
  writeFileSync(`${dir}/window.json`, JSON.stringify({ from: String(from), to: String(to), requests }));
  return perRequest(mainProfile(dir), requests, { from, to });
}

/**
 * One server under --cpu-prof delivering at the layout's fixed rate, as in the table's "server CPU
 * per 10k deliveries": warmed up first, then only the measured run's samples count.
 */
async function fanoutProfile(kind: ServerKind, layout: FanoutLayout, broadcastFile: string) {
  const dir = profileDir(`fanout-${kind}`);
  const server = await startBenchServer(kind, { execArgv: ['--cpu-prof', `--cpu-prof-dir=${dir}`] });
  const load = startChild('load/fanout-load.ts');
  await load.request('setup', { kind, port: server.port, taskCount: layout.tasks });
  await load.request('connect', { subscribers: layout.subscribers });
  await load.request('run', { mode: 'rate', rate: layout.rate, durationMs: 2_000 });
  const cpu0 = await server.cpuMs();
  const from = process.hrtime.bigint() / 1000n;
  const run = await load.request('run', { mode: 'rate', rate: layout.rate, durationMs: 5_000 });
  const to = process.hrtime.bigint() / 1000n;
  const cpuUs = ((await server.cpuMs()) - cpu0) * 1_000;
  await load.request('closeAll');
  await load.stop();
  await server.stop();
  const profile = readWindow(
    mainProfile(dir),
    { from, to },
    (frame) => frame.functionName === 'publish' && frame.url.endsWith(broadcastFile),
  );
  return { profile, delivered: run.delivered as number, cpuUs };
}

if (mode === 'ingest') {
  const floor = await ingestProfile('bare-hono');
  const ours = await ingestProfile('ours');
  const keys = [...new Set([...floor.keys(), ...ours.keys()])];
  const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
  console.log(`CPU µs per status POST (self time, not idle; steady state: after a warm-up run)`);
  console.log(`${'bare Hono'.padStart(9)} ${'ours'.padStart(7)} ${'extra'.padStart(7)}  where`);
  console.log(
    `${sum(floor).toFixed(1).padStart(9)} ${sum(ours).toFixed(1).padStart(7)} ${(sum(ours) - sum(floor)).toFixed(1).padStart(7)}  total`,
  );
  for (const key of keys
    .sort((a, b) => (ours.get(b) ?? 0) - (floor.get(b) ?? 0) - ((ours.get(a) ?? 0) - (floor.get(a) ?? 0)))
    .slice(0, 25)) {
    const f = floor.get(key) ?? 0;
    const o = ours.get(key) ?? 0;
    console.log(
      `${f.toFixed(1).padStart(9)} ${o.toFixed(1).padStart(7)} ${(o - f).toFixed(1).padStart(7)}  ${key}`,
    );
  }
} else if (mode === 'fanout') {
  const tasks = Number(arg ?? 1);
  const layout = FANOUT_LAYOUTS.find((l) => l.tasks === tasks) ?? { ...FANOUT_LAYOUTS[1]!, tasks };
  // The broadcast: serializing, framing and every socket write of one update, in each server.
  const floor = await fanoutProfile('bare-ws', layout, 'bench/servers/bare-ws.ts');
  const ours = await fanoutProfile('ours', layout, 'server/realtime/hub.ts');
  const total = (p: WindowedProfile) => [...p.self.values()].reduce((a, b) => a + b, 0);
  // The profiler samples wall time: a thread that other work on the machine holds off the CPU
  // inflates whatever it was running. So each part keeps its share of the samples, scaled to
  // the CPU the process really used in the window (process.cpuUsage).
  const per = (p: { profile: WindowedProfile; delivered: number; cpuUs: number }, us: number) =>
    (((us / total(p.profile)) * p.cpuUs) / p.delivered).toFixed(2).padStart(7);
  console.log(
    `server CPU µs per delivery at ${layout.rate} POST/s, ${layout.subscribers} subscribers over ${tasks} task(s): the measured window's process CPU, split by self time in its samples (idle left out)`,
  );
  console.log(`${'bare ws'.padStart(7)} ${'ours'.padStart(7)}  where`);
  const row = (name: string, pick: (p: WindowedProfile) => number) =>
    console.log(`${per(floor, pick(floor.profile))} ${per(ours, pick(ours.profile))}  ${name}`);
  row('total', total);
  row('the broadcast (publish and all below it: serialize, frame, socket writes)', (p) => p.under);
  row('the rest (the status POST, the event loop)', (p) => total(p) - p.under);
  const keys = [...new Set([...floor.profile.self.keys(), ...ours.profile.self.keys()])];
  const self = (p: { profile: WindowedProfile }, key: string) => p.profile.self.get(key) ?? 0;
  for (const key of keys
    .sort((a, b) => Math.max(self(floor, b), self(ours, b)) - Math.max(self(floor, a), self(ours, a)))
    .slice(0, 30)) {
    console.log(`${per(floor, self(floor, key))} ${per(ours, self(ours, key))}  ${key}`);
  }
} else if (mode === 'heap') {
  const kind = (arg ?? 'ours') as AnyServerKind;
  const server = await startBenchServer(kind);
  const load = startChild('load/fanout-load.ts');
  await load.request('setup', { kind, port: server.port, taskCount: 200 });
  await load.request('connect', { subscribers: 1_000 });
  await server.child.request('mem');
  const a = (await server.child.request('heapSnapshot', { path: `/tmp/ats-${kind}-a.heapsnapshot` })).path;
  await load.request('connect', { subscribers: 2_000 });
  await server.child.request('mem');
  const b = (await server.child.request('heapSnapshot', { path: `/tmp/ats-${kind}-b.heapsnapshot` })).path;
  await load.request('closeAll');
  await load.stop();
  await server.stop();
  console.log(heapDiff(a, b, 2_000, 25));
  rmSync(a);
  rmSync(b);
} else {
  console.error('usage: bench/profile.ts ingest | fanout [1|200] | heap [ours|bare-ws|socketio|hono-ws]');
  process.exit(1);
}
