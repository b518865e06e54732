import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { ROUTES, type StatusUpdateInput, type Task } from '../../../protocol/index.js';
import { loadConfig } from '../../../server/config.js';
import { startServer, type RunningServer } from '../../../server/serve.js';
import { MemoryTaskStore } from '../../../server/store/memory-store.js';
import type { TaskStore } from '../../../server/store/task-store.js';

/**
 * The real server, in this process, serving the built widget from dist/. The store outlives
 * restarts (the server is stopped and started again on the same port), as a persistent store
 * would, so a restart looks to the panel exactly like a real one.
 */
export class E2eServer {
  readonly store: TaskStore;
  #running: RunningServer | null = null;
  #port = 0;
  readonly #env: Record<string, string>;
  readonly #now: (() => number) | undefined;

  /** `now`: the server's clock (timestamps, rate limits, viewer-token expiry); default Date.now. */
  constructor(
    env: Record<string, string> = {},
    store: TaskStore = new MemoryTaskStore(),
    now?: () => number,
  ) {
    this.store = store;
    this.#env = env;
    this.#now = now;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  async start(): Promise<void> {
    const config = loadConfig({
      STORE: 'memory',
      HEARTBEAT_MS: '1000',
      // The tests are a dispatcher creating hundreds of tasks from one address.
      CREATES_PER_MINUTE: '0',
      ...this.#env,
      PORT: String(this.#port),
    });
    this.#running = await startServer({
      config,
      store: this.store,
      log: quietLog,
      ...(this.#now ? { now: this.#now } : {}),
    });
    this.#port = this.#running.port;
  }

  async stop(): Promise<void> {
    await this.#running?.close();
    this.#running = null;
  }

  /** Creates a task as a dispatcher would; returns it and its agent token. */
  async createTask(agentId = 'e2e-agent', id?: string): Promise<{ task: Task; token: string }> {
    const body = (await this.#post(ROUTES.tasks, { agentId, ...(id ? { id } : {}) })) as {
      task: Task;
      agentToken: string;
    };
    return { task: body.task, token: body.agentToken };
  }

  /** A gauge or counter of /metrics (e.g. `agent_task_status_ws_connections`). */
  async metric(name: string): Promise<number> {
    const text = await (await fetch(`${this.url}/metrics`)).text();
    const match = new RegExp(`^${name} (\\d+)$`, 'm').exec(text);
    if (!match) throw new Error(`${name} is not in /metrics`);
    return Number(match[1]);
  }

  /** Posts a status update as the task's agent. */
  async post(taskId: string, token: string, update: StatusUpdateInput): Promise<Task> {
    return ((await this.#post(ROUTES.taskStatus(taskId), update, token)) as { task: Task }).task;
  }

  async #post(path: string, body: unknown, token?: string): Promise<unknown> {
    const response = await fetch(this.url + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    const json = await response.json();
    if (!response.ok) throw new Error(`${path}: ${response.status} ${JSON.stringify(json)}`);
    return json;
  }
}

const quietLog = { error: (...args: unknown[]) => console.error(...args), warn: () => {} };

/**
 * A host page on another origin (another port), as a dashboard embedding the panel would be:
 * it loads the embeddable file cross-origin with one script tag. `html` also gets the page's
 * query, for pages that differ by it (`url + '?tab=2'`).
 */
export async function startHostPage(
  html: (apiUrl: string, query: URLSearchParams) => string,
  apiUrl: () => string,
): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(html(apiUrl(), new URL(req.url ?? '/', 'http://host').searchParams));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    // "localhost" rather than 127.0.0.1: a different origin from the API, allowed by default.
    url: `http://localhost:${port}/`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
