// `agent-task-status tail`: a task's log in the terminal, live over the WebSocket, as the widget
// follows it: a snapshot from the cursor, then updates; a gap (an update past cursor + 1) or a
// snapshot with more to come is filled from the logs route; a dropped socket is opened again with
// backoff and the task subscribed again from the cursor. Each line is printed once, in seq order.
import { WebSocket } from 'ws';
import { isTerminal } from '../../protocol/phases.js';
import { taskLogsRoute, WS_ROUTE } from '../../protocol/routes.js';
import type { LogEntry, Task } from '../../protocol/task.js';
import { backoffDelay } from '../../widget/connection/backoff.js';

export interface TailOptions {
  baseUrl: string;
  taskId: string;
  /** Print lines after this seq (default 0: the whole log). */
  afterSeq?: number;
  /** A viewer token (or the admin token) when the server has VIEWER_TOKEN_KEYS. */
  token?: string;
  print: (line: LogEntry) => void;
  /** Told of the task as it changes (phase, progress, message). */
  onTask?: (task: Task) => void;
  /** Told when the socket drops, and the delay before the next try. */
  onReconnect?: (delayMs: number) => void;
  signal?: AbortSignal;
}

interface Page {
  logs: LogEntry[];
  nextAfterSeq: number;
  hasMore: boolean;
}

/** Follows the task until it ends (resolves with it) or `signal` aborts (resolves with the last seen). */
export async function tail(options: TailOptions): Promise<Task | null> {
  let cursor = options.afterSeq ?? 0;
  let task: Task | null = null;
  const headers: Record<string, string> = options.token ? { authorization: `Bearer ${options.token}` } : {};

  /** Prints what is new in `lines` (seq order), moving the cursor. */
  const take = (lines: readonly LogEntry[]) => {
    for (const line of lines) {
      if (line.seq <= cursor) continue;
      options.print(line);
      cursor = line.seq;
    }
  };
  /** Lines after the cursor up to `upTo`, from the logs route (HTTP, with the same cursor). */
  const fill = async (upTo: number) => {
    while (cursor < upTo) {
      const url = new URL(`${taskLogsRoute(options.taskId)}?afterSeq=${cursor}&limit=1000`, options.baseUrl);
      const response = await fetch(url, { headers, signal: options.signal });
      if (!response.ok) {
        const text = await response.text();
        // A refusal is the server's word on this task: reconnecting would not change it.
        if ([401, 403, 404].includes(response.status))
          throw new Refused(`logs route: ${response.status} ${text}`);
        throw new Error(`logs route answered ${response.status}: ${text}`);
      }
      const page = (await response.json()) as Page;
      take(page.logs);
      // Status-only events have no line: the page's cursor covers them.
      cursor = Math.max(cursor, Math.min(page.nextAfterSeq, upTo));
      if (!page.hasMore) break;
    }
  };
  const seen = (next: Task) => {
    task = next;
    options.onTask?.(next);
  };

  for (let attempt = 0; !options.signal?.aborted;) {
    const outcome = await follow();
    if (outcome instanceof Error) throw outcome;
    if (outcome === 'ended' || options.signal?.aborted) return task;
    if (outcome === 'live') attempt = 0;
    const delay = backoffDelay(attempt++, { baseMs: 500, capMs: 10_000 });
    options.onReconnect?.(delay);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, delay);
      options.signal?.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          resolve();
        },
        { once: true },
      );
    });
  }
  return task;

  /** One socket: 'ended' when the task ended, else how far it got before it dropped. */
  function follow(): Promise<'ended' | 'live' | 'failed' | Error> {
    return new Promise((resolve) => {
      const socket = new WebSocket(new URL(WS_ROUTE, options.baseUrl.replace(/^http/, 'ws')));
      let live = false;
      let work = Promise.resolve();
      // A connection that went quiet (half open): the server pings every heartbeatMs, and one that
      // heard nothing for twice that is gone, as the widget judges it.
      let quietAfterMs = 60_000;
      let watchdog: ReturnType<typeof setTimeout> | undefined;
      const heard = () => {
        clearTimeout(watchdog);
        watchdog = setTimeout(() => finish(live ? 'live' : 'failed'), quietAfterMs);
      };
      heard();
      socket.on('ping', heard);
      const finish = (outcome: 'ended' | 'live' | 'failed' | Error) => {
        clearTimeout(watchdog);
        options.signal?.removeEventListener('abort', abort);
        socket.removeAllListeners();
        socket.on('error', () => {});
        socket.terminate();
        resolve(outcome);
      };
      const abort = () => finish('live');
      options.signal?.addEventListener('abort', abort, { once: true });
      const send = (message: object) => socket.send(JSON.stringify(message));
      socket.on('message', (data) => {
        heard();
        const message = JSON.parse(String(data)) as { type: string } & Record<string, unknown>;
        if (message.type === 'hello' && typeof message.heartbeatMs === 'number') {
          quietAfterMs = 2 * message.heartbeatMs + 5_000;
          heard();
        }
        // In order, one at a time: a gap filled over HTTP comes before the next update.
        work = work
          .then(async () => {
            if (message.type === 'hello') {
              if (options.token) send({ type: 'authorize', requestId: 1, tokens: [options.token] });
              send({
                type: 'subscribe',
                requestId: 2,
                tasks: [{ taskId: options.taskId, afterSeq: cursor }],
              });
            } else if (message.type === 'snapshot') {
              live = true;
              const page = message as unknown as Page & { task: Task };
              take(page.logs);
              if (page.hasMore) await fill(page.task.seq);
              cursor = Math.max(cursor, Math.min(page.nextAfterSeq, page.task.seq));
              seen(page.task);
            } else if (message.type === 'update') {
              const update = message as unknown as { fromSeq: number; task: Task; logs: LogEntry[] };
              if (update.fromSeq > cursor + 1) await fill(update.fromSeq - 1);
              take(update.logs);
              cursor = Math.max(cursor, update.task.seq);
              seen(update.task);
            } else if (message.type === 'error' && message.taskId === options.taskId) {
              const text = `${String(message.code)}: ${String(message.message)}`;
              // Refusals end the tail; a store that could not answer is retried.
              throw message.code === 'store_unavailable' ? new Error(text) : new Refused(text);
            }
            if (task && isTerminal(task.phase) && cursor >= task.seq) finish('ended');
          })
          .catch((error: Error) => {
            // Refusals a retry cannot fix end the tail with the server's reason.
            finish(error instanceof Refused ? error : live ? 'live' : 'failed');
          });
      });
      socket.on('error', () => {});
      socket.on('close', () => void work.then(() => finish(live ? 'live' : 'failed')));
    });
  }
}

/** The server refused this tail (no such task, no or a wrong token, an expired one): not retried. */
class Refused extends Error {}
