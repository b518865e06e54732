import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Child } from './child.js';
import { haproxyConfig } from './haproxy-config.js';

const REPO = path.resolve(import.meta.dirname, '../..');
const NODE = process.execPath;

/**
 * A local cluster (issue 14): a shared DynamoDB API (a dynalite server process), redis-server,
 * server instances, and HAProxy in front, health-checking them on /readyz. `npm run cluster` runs
 * one with the demo; the scale-out tests run others on free ports and kill parts of them.
 */
export interface ClusterOptions {
  /** The balancer's port: the cluster's one address. */
  port: number;
  instancePorts: readonly number[];
  dynalitePort: number;
  redisPort: number;
  /** dynalite's LevelDB and Redis's files, and the HAProxy configuration. */
  dataDir: string;
  /** DEMO=1 on the first instance (its simulated agents; /demo/api routed to it). */
  demo?: boolean;
  /** Each process's output on this one's stdout, named. */
  echo?: boolean;
  /** More settings for every instance (HEARTBEAT_MS, say). */
  env?: Record<string, string>;
  /** How long an instance stays up but unready on SIGTERM (default 3 s: 2 failed checks, 1 s apart, and a margin). */
  drainDelayMs?: number;
}

export interface Cluster {
  /** The balancer's URL. */
  url: string;
  instances: Child[];
  redis: Child;
  dynalite: Child;
  balancer: Child;
  /** Restarts one instance as a deploy would: SIGTERM, wait for its exit, start it again. */
  rollInstance(index: number): Promise<void>;
  close(): Promise<void>;
}

/** A Debian command by name: on PATH, or in /usr/sbin (haproxy), which a normal user's PATH lacks. */
function systemCommand(name: string): string {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/sbin'];
  return dirs.map((dir) => path.join(dir, name)).find((file) => existsSync(file)) ?? name;
}

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const { port, instancePorts, dynalitePort, redisPort, dataDir, demo = false, echo = false } = options;
  await mkdir(path.join(dataDir, 'redis'), { recursive: true });
  const dynalite = new Child(
    'dynalite',
    NODE,
    [
      path.join(REPO, 'node_modules/dynalite/cli.js'),
      '--port',
      String(dynalitePort),
      '--host',
      '127.0.0.1',
      '--path',
      path.join(dataDir, 'dynalite'),
      '--createTableMs',
      '0',
    ],
    { ready: /Dynalite listening/, echo },
  );
  const redis = new Child(
    'redis',
    systemCommand('redis-server'),
    [
      '--port',
      String(redisPort),
      '--bind',
      '127.0.0.1',
      '--dir',
      path.join(dataDir, 'redis'),
      '--save',
      '',
      '--appendonly',
      'no',
    ],
    { ready: /Ready to accept connections/, echo },
  );
  const env = (index: number): NodeJS.ProcessEnv => ({
    ...process.env,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    PORT: String(instancePorts[index]),
    HOST: '127.0.0.1',
    STORE: 'dynamodb',
    DYNAMODB_ENDPOINT: `http://127.0.0.1:${dynalitePort}`,
    AWS_REGION: '',
    REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    DRAIN_DELAY_MS: String(options.drainDelayMs ?? 3_000),
    TRUSTED_PROXIES: '127.0.0.1',
    DEMO: demo && index === 0 ? '1' : '0',
    ...options.env,
  });
  const instances = instancePorts.map(
    (instancePort, index) =>
      new Child(`instance-${index + 1}`, NODE, ['--import', 'tsx', path.join(REPO, 'server/main.ts')], {
        cwd: REPO,
        env: env(index),
        ready: /agent-task-status listening on/,
        echo,
      }),
  );
  const config = path.join(dataDir, 'haproxy.cfg');
  await writeFile(
    config,
    haproxyConfig({
      port,
      instances: instancePorts.map((instancePort, index) => ({
        name: `instance-${index + 1}`,
        port: instancePort,
      })),
      demoInstance: demo ? 'instance-1' : undefined,
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  const balancer = new Child('haproxy', systemCommand('haproxy'), ['-db', '-f', config], {
    ready: () => answers(`${url}/readyz`),
    echo,
  });

  const all = [dynalite, redis, ...instances, balancer];
  try {
    await Promise.all([dynalite.start(), redis.start()]);
    // One at a time: the first creates the table.
    for (const instance of instances) await instance.start();
    await balancer.start();
  } catch (error) {
    for (const child of all.reverse()) await child.stop('SIGKILL');
    throw error;
  }
  return {
    url,
    instances,
    redis,
    dynalite,
    balancer,
    async rollInstance(index: number) {
      const instance = instances[index]!;
      await instance.stop('SIGTERM');
      await instance.start();
      // Back in HAProxy's rotation after 2 good checks a second apart (rise 2, inter 1s).
      await new Promise((resolve) => setTimeout(resolve, 2_500));
    },
    async close() {
      await balancer.stop('SIGTERM');
      await Promise.all(instances.map((instance) => instance.stop('SIGTERM', 15_000)));
      await Promise.all([redis.stop('SIGTERM'), dynalite.stop('SIGTERM')]);
    },
  };
}
