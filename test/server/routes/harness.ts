// Shared by the route tests: an app over a memory store, driven with app.request() (no port).
import {
  ErrorBodySchema,
  ROUTES,
  type CreateTaskResponse,
  type ErrorBody,
  type StatusUpdateInput,
} from '../../../protocol/index.js';
import { createApp, type AppOptions } from '../../../server/app.js';
import { LocalTaskBus } from '../../../server/bus/local-bus.js';
import type { BusEvent } from '../../../server/bus/task-bus.js';
import { loadConfig, type Config } from '../../../server/config.js';
import { MemoryTaskStore } from '../../../server/store/memory-store.js';
import type { TaskStore } from '../../../server/store/task-store.js';

/** The defaults, on the memory store, with static files pointed nowhere unless a test says otherwise. */
export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({ STORE: 'memory', STATIC_DIR: '/nonexistent/agent-task-status-dist', ...env });
}

export interface HarnessOptions {
  env?: Record<string, string>;
  store?: TaskStore;
  now?: () => number;
  realtime?: AppOptions['realtime'];
  demo?: AppOptions['demo'];
}

export function harness(options: HarnessOptions = {}) {
  const store = options.store ?? new MemoryTaskStore();
  const bus = new LocalTaskBus();
  const events: BusEvent[] = [];
  bus.subscribe((event) => events.push(event));
  const logged: { level: 'error' | 'warn'; args: unknown[] }[] = [];
  const log = {
    error: (...args: unknown[]) => logged.push({ level: 'error', args }),
    warn: (...args: unknown[]) => logged.push({ level: 'warn', args }),
  };
  const config = testConfig(options.env);
  const app = createApp({
    store,
    bus,
    config,
    log,
    realtime: options.realtime,
    now: options.now,
    demo: options.demo,
  });

  function request(path: string, init: RequestInit = {}): Promise<Response> {
    return Promise.resolve(app.request(path, init));
  }

  function postJson(path: string, body: unknown, headers: Record<string, string> = {}) {
    return request(path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  }

  async function createTask(
    body: Record<string, unknown> = { agentId: 'agent-1' },
    headers: Record<string, string> = {},
  ): Promise<CreateTaskResponse> {
    const res = await postJson(ROUTES.tasks, body, headers);
    if (res.status !== 201) throw new Error(`create answered ${res.status}: ${await res.text()}`);
    return (await res.json()) as CreateTaskResponse;
  }

  function postStatus(
    taskId: string,
    token: string,
    update: StatusUpdateInput | string,
    headers: Record<string, string> = {},
  ) {
    return postJson(ROUTES.taskStatus(taskId), update, { Authorization: `Bearer ${token}`, ...headers });
  }

  return { app, store, bus, config, events, logged, request, postJson, createTask, postStatus };
}

/** Reads an error answer, checking it has the documented shape. */
export async function errorOf(res: Response): Promise<ErrorBody['error']> {
  return ErrorBodySchema.parse(await res.json()).error;
}

/** Logs lines `first`..`last` as one post's `logs` array. */
export function lines(first: number, last: number) {
  return Array.from({ length: last - first + 1 }, (_, i) => ({ message: `line ${first + i}` }));
}
