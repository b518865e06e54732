import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, type ClientOptions } from 'ws';
import {
  ROUTES,
  StatusUpdateSchema,
  type ServerMessage,
  type StatusUpdateInput,
} from '../../../protocol/index.js';
import { LocalTaskBus } from '../../../server/bus/local-bus.js';
import { createRealtime, type Realtime, type RealtimeConfig } from '../../../server/realtime/realtime.js';
import { MemoryTaskStore } from '../../../server/store/memory-store.js';
import type { TaskStore } from '../../../server/store/task-store.js';

export const TEST_REALTIME_CONFIG: RealtimeConfig = {
  allowedOrigins: ['http://localhost:*'],
  allowedHosts: new Set(['localhost']),
  heartbeatMs: 30_000,
  maxPayloadBytes: 16 * 1024,
  maxBufferedBytes: 1024 * 1024,
  maxSubscriptionsPerSocket: 10,
  viewerTokenKeys: null,
  adminToken: null,
};

/**
 * A real server on port 0 with just the realtime part mounted; `post` writes to the store and
 * publishes on the bus exactly as the status route does.
 */
export async function startRealtimeServer(
  options: { config?: Partial<RealtimeConfig>; store?: TaskStore; now?: () => number } = {},
) {
  const store = options.store ?? new MemoryTaskStore();
  const bus = new LocalTaskBus();
  const realtime: Realtime = createRealtime({
    store,
    bus,
    config: { ...TEST_REALTIME_CONFIG, ...options.config },
    now: options.now,
  });
  // What serve.ts does: a plain HTTP server whose 'upgrade' event goes to the hub.
  const server = createServer((_req, res) => res.writeHead(404).end());
  server.on('upgrade', (req, socket, head) => realtime.handleUpgrade(req, socket, head));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  let created = 0;

  return {
    store,
    bus,
    realtime,
    port,
    wsUrl: `ws://127.0.0.1:${port}${ROUTES.ws}`,
    async createTask(id = `task-${++created}`, agentId = 'agent-1') {
      const task = await store.createTask({ id, agentId, title: null, tokenHash: 'x', now: new Date() });
      bus.publish({ type: 'agent-task', agentId, task });
      return task;
    },
    async post(taskId: string, update: StatusUpdateInput) {
      const parsed = StatusUpdateSchema.parse(update);
      const result = await store.append(taskId, { update: parsed, now: new Date() });
      bus.publish({ type: 'update', taskId, fromSeq: result.fromSeq, task: result.task, logs: result.logs });
      return result;
    },
    async close() {
      await realtime.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A `ws` client that queues what it receives, so tests await messages instead of sleeping. */
export class TestClient {
  readonly ws: WebSocket;
  readonly #queue: ServerMessage[] = [];
  readonly #waiters: ((message: ServerMessage) => void)[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;

  constructor(url: string, options: ClientOptions = {}) {
    this.ws = new WebSocket(url, { origin: 'http://localhost:5173', ...options });
    this.ws.on('message', (data) => {
      const message = JSON.parse(String(data)) as ServerMessage;
      const waiter = this.#waiters.shift();
      if (waiter) waiter(message);
      else this.#queue.push(message);
    });
    this.closed = new Promise((resolve) => {
      this.ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    });
  }

  static async connect(url: string, options: ClientOptions = {}): Promise<TestClient> {
    const client = new TestClient(url, options);
    await once(client.ws, 'open');
    const hello = await client.next();
    if (hello.type !== 'hello') throw new Error(`expected hello, got ${hello.type}`);
    return client;
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  #lastRequestId = 0;

  /** Subscribes one task (from `afterSeq`, or its tail); returns the request id its answer echoes. */
  subscribe(taskId: string, afterSeq?: number): number {
    const requestId = ++this.#lastRequestId;
    const task = afterSeq === undefined ? { taskId } : { taskId, afterSeq };
    this.send({ type: 'subscribe', requestId, tasks: [task] });
    return requestId;
  }

  /** Follows an agent's active task; returns the request id its answer echoes. */
  watchAgent(agentId: string): number {
    const requestId = ++this.#lastRequestId;
    this.send({ type: 'subscribe', requestId, agents: [agentId] });
    return requestId;
  }

  /** The next message received (queued or future). */
  next(): Promise<ServerMessage> {
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** The next message of `type`, failing on any other message first. */
  async expect<T extends ServerMessage['type']>(type: T): Promise<Extract<ServerMessage, { type: T }>> {
    const message = await this.next();
    if (message.type !== type) throw new Error(`expected ${type}, got ${JSON.stringify(message)}`);
    return message as Extract<ServerMessage, { type: T }>;
  }

  /** Messages received so far and not yet taken. */
  get queued(): readonly ServerMessage[] {
    return this.#queue;
  }

  close(): void {
    this.ws.close();
  }
}
