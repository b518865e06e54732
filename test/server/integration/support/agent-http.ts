// What an agent and a dashboard do over HTTP, against a server's base URL.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  ROUTES,
  type CreateTaskResponse,
  type ErrorBody,
  type LogEntry,
  type LogsPage,
  type StatusUpdateInput,
  type Task,
  type TaskStatusPage,
} from '../../../../protocol/index.js';

export interface Answer<T> {
  status: number;
  headers: Headers;
  body: T;
}

async function answer<T>(response: Response): Promise<Answer<T>> {
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: (text === '' ? null : JSON.parse(text)) as T,
  };
}

export async function createTask(baseUrl: string, agentId: string): Promise<CreateTaskResponse> {
  const res = await fetch(baseUrl + ROUTES.tasks, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ agentId }),
  });
  if (res.status !== 201) throw new Error(`create answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as CreateTaskResponse;
}

/** The agent's POST; resolves with any answer, rejects only when no answer came (connection lost). */
export async function postStatus(
  baseUrl: string,
  taskId: string,
  token: string,
  update: StatusUpdateInput | string,
  idempotencyKey?: string,
): Promise<Answer<{ task: Task } & Partial<ErrorBody>>> {
  const res = await fetch(baseUrl + ROUTES.taskStatus(taskId), {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      Authorization: `Bearer ${token}`,
      ...(idempotencyKey === undefined ? {} : { 'Idempotency-Key': idempotencyKey }),
    },
    body: typeof update === 'string' ? update : JSON.stringify(update),
  });
  return answer(res);
}

export async function getStatus(
  baseUrl: string,
  taskId: string,
  query = '',
): Promise<Answer<TaskStatusPage & Partial<ErrorBody>>> {
  return answer(await fetch(`${baseUrl}${ROUTES.taskStatus(taskId)}${query}`));
}

/**
 * Every log line of a task, read forward through the logs route `limit` lines at a time, from
 * the start, as a client catching up does. Checks the paging contract on the way.
 */
export async function readAllLogs(
  baseUrl: string,
  taskId: string,
  limit: number,
): Promise<{ logs: LogEntry[]; pages: number; nextAfterSeq: number }> {
  const logs: LogEntry[] = [];
  let afterSeq = 0;
  for (let pages = 1; pages <= 10_000; pages++) {
    const res = await fetch(`${baseUrl}${ROUTES.taskLogs(taskId)}?afterSeq=${afterSeq}&limit=${limit}`);
    if (res.status !== 200) throw new Error(`logs page answered ${res.status}: ${await res.text()}`);
    const page = (await res.json()) as LogsPage;
    if (page.logs.length > limit) throw new Error(`a page of ${page.logs.length} lines, over limit ${limit}`);
    for (const line of page.logs) {
      const previous = logs[logs.length - 1]?.seq ?? afterSeq;
      if (line.seq <= previous) throw new Error(`line seq ${line.seq} after ${previous}: out of order`);
      logs.push(line);
    }
    if (page.nextAfterSeq < afterSeq) throw new Error(`the cursor went back from ${afterSeq}`);
    if (!page.hasMore) return { logs, pages, nextAfterSeq: page.nextAfterSeq };
    if (page.logs.length === 0 || page.nextAfterSeq === afterSeq) throw new Error('hasMore without progress');
    afterSeq = page.nextAfterSeq;
  }
  throw new Error('more than 10,000 pages');
}

/** A fresh temp directory and its removal. */
export async function tempDir(prefix: string): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}
