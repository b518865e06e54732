// Our server, the real one: startServer from server/serve.ts with the bench's settings (no rate
// limit, many subscriptions per socket, a deep outbound buffer so saturation measures throughput
// rather than our slow-consumer cut-off).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLOSE_CODES } from '../../protocol/index.js';
import { loadConfig } from '../../server/config.js';
import { startServer, type RunningServer } from '../../server/serve.js';
import { MemoryTaskStore } from '../../server/store/memory-store.js';
import { serveRequests } from '../lib/ipc.js';
import { processStats } from './process-stats.js';

const dataDir = mkdtempSync(join(tmpdir(), 'ats-bench-'));
process.on('exit', () => rmSync(dataDir, { recursive: true, force: true }));

const store = process.env.STORE ?? 'memory';
const config = loadConfig({
  PORT: '0',
  HOST: '127.0.0.1',
  STORE: store,
  DATA_DIR: dataDir,
  // Load comes from one address, and a long run writes past a task's default log quota.
  RATE_LIMIT_PER_MINUTE: '0',
  CREATES_PER_MINUTE: '0',
  READS_PER_MINUTE: '0',
  TASK_LOG_MAX_LINES: '1000000000',
  TASK_LOG_MAX_BYTES: String(1024 ** 4),
  WS_MAX_SUBSCRIPTIONS: '100000',
  WS_MAX_BUFFERED_BYTES: String(256 * 1024 * 1024),
  STATIC_DIR: join(dataDir, 'static'),
  // The store-cost bench points the store at a dynalite it counts requests on (bench/store-cost.ts).
  DYNAMODB_ENDPOINT: process.env.DYNAMODB_ENDPOINT,
  DYNAMODB_TRANSACTIONS: process.env.DYNAMODB_TRANSACTIONS,
  // The scale-out bench runs several of these on one Redis (bench/scale-out.ts).
  REDIS_URL: process.env.REDIS_URL,
  TABLE_NAME: process.env.TABLE_NAME,
});
// The memory store is handed in, so a restart keeps the tasks (like a real restart with DynamoDB).
const memory =
  store === 'memory'
    ? new MemoryTaskStore({
        logQuota: { maxLines: config.taskLogMaxLines, maxBytes: config.taskLogMaxBytes },
      })
    : undefined;
let running: RunningServer;

async function start(port: number): Promise<number> {
  running = await startServer({
    config: { ...config, port },
    ...(memory ? { store: memory } : {}),
  });
  return running.port;
}

serveRequests({
  ...processStats,
  async listen() {
    return { port: await start(0) };
  },
  async restart() {
    const { port } = running;
    await running.close(CLOSE_CODES.serviceRestart);
    return { port: await start(port) };
  },
});
