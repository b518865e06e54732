// The baselines' whole "store": tasks in a Map, updated the way server/store/apply-update.ts does,
// so every server sends the same update message (same fields, same size) for the same POST.
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface BenchTask {
  id: string;
  agentId: string;
  title: string | null;
  phase: string;
  progress: number | null;
  message: string | null;
  seq: number;
  createdAt: string;
  updatedAt: string;
}
export interface BenchLog {
  seq: number;
  at: string;
  level: string;
  message: string;
}
interface Entry {
  task: BenchTask;
  logs: BenchLog[];
}

interface PostBody {
  phase?: string;
  progress?: number | null;
  message?: string | null;
  logs?: { level?: string; message: string; at?: string }[];
}

export class BaselineTasks {
  readonly #tasks = new Map<string, Entry>();

  create(body: { id?: string; agentId: string; title?: string }): BenchTask {
    const stamp = new Date().toISOString();
    const id = body.id ?? `t-${this.#tasks.size + 1}`;
    const task: BenchTask = {
      id,
      agentId: body.agentId,
      title: body.title ?? null,
      phase: 'queued',
      progress: null,
      message: null,
      seq: 0,
      createdAt: stamp,
      updatedAt: stamp,
    };
    this.#tasks.set(id, { task, logs: [] });
    return task;
  }

  get(id: string): Entry | undefined {
    return this.#tasks.get(id);
  }

  /** Returns the update message for subscribers, or null for an unknown task. */
  append(id: string, body: PostBody) {
    const entry = this.#tasks.get(id);
    if (!entry) return null;
    const stamp = new Date().toISOString();
    const fromSeq = entry.task.seq + 1;
    let seq = entry.task.seq;
    const logs = (body.logs ?? []).map((line) => ({
      seq: ++seq,
      at: line.at ?? stamp,
      level: line.level ?? 'info',
      message: line.message,
    }));
    if (body.phase !== undefined || body.progress !== undefined || body.message !== undefined) seq += 1;
    entry.task = {
      ...entry.task,
      phase: body.phase ?? entry.task.phase,
      progress: body.progress === undefined ? entry.task.progress : body.progress,
      message: body.message === undefined ? entry.task.message : body.message,
      seq,
      updatedAt: stamp,
    };
    for (const line of logs) entry.logs.push(line);
    return { type: 'update', taskId: id, fromSeq, task: entry.task, logs };
  }

  snapshot(id: string) {
    const entry = this.#tasks.get(id);
    if (!entry) return null;
    return {
      type: 'snapshot',
      taskId: id,
      task: entry.task,
      logs: entry.logs.slice(-200),
      nextAfterSeq: entry.task.seq,
      hasMore: false,
      hasOlder: entry.logs.length > 200,
    };
  }
}

const TASKS_PATH = '/api/agent-tasks';
const STATUS_PATH = /^\/api\/agent-tasks\/([^/]+)\/status$/;

/**
 * The baselines' HTTP side on plain node:http: the same two routes and bodies as ours (create a
 * task, post its status), parsed with JSON.parse, with `publish` called once per update.
 */
export function baselineHttpHandler(tasks: BaselineTasks, publish: (taskId: string, update: object) => void) {
  return function handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = req.url ?? '/';
      let body: any;
      try {
        body = chunks.length > 0 ? JSON.parse(Buffer.concat(chunks).toString()) : {};
      } catch {
        return reply(res, 400, { error: { code: 'invalid_json', message: 'bad JSON' } });
      }
      if (req.method === 'POST' && url === TASKS_PATH) {
        return reply(res, 201, { task: tasks.create(body), agentToken: 'baseline-token' });
      }
      const match = req.method === 'POST' ? STATUS_PATH.exec(url) : null;
      if (match) {
        const update = tasks.append(decodeURIComponent(match[1]!), body);
        if (!update) return reply(res, 404, { error: { code: 'not_found', message: 'no such task' } });
        publish(update.taskId, update);
        return reply(res, 200, { task: update.task });
      }
      reply(res, 404, { error: { code: 'not_found', message: 'no route' } });
    });
  };
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
