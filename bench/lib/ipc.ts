import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** A request from the orchestrator to a child, and the child's answer. */
interface Request {
  id: number;
  cmd: string;
  args: unknown;
}
interface Reply {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

export type Handlers = Record<string, (args: any) => unknown>;

/** In a child: answer the orchestrator's requests with `handlers`; exits when the parent goes. */
export function serveRequests(handlers: Handlers): void {
  process.on('message', (raw) => {
    const { id, cmd, args } = raw as Request;
    const handler = handlers[cmd];
    Promise.resolve()
      .then(() => {
        if (!handler) throw new Error(`unknown command ${cmd}`);
        return handler(args);
      })
      .then(
        (result) => process.send!({ id, ok: true, result } satisfies Reply),
        (error: unknown) =>
          process.send!({ id, ok: false, error: error instanceof Error ? error.stack : String(error) }),
      );
  });
  process.on('disconnect', () => process.exit(0));
}

export interface Child {
  readonly process: ChildProcess;
  request<T = any>(cmd: string, args?: unknown, timeoutMs?: number): Promise<T>;
  stop(): Promise<void>;
}

const TSX = ['--import', 'tsx'];

/**
 * Forks a bench script (TypeScript through tsx) with an IPC channel. `gc`: run with --expose-gc
 * so the child can collect before reading its heap.
 */
export function startChild(
  script: string,
  options: { env?: Record<string, string>; gc?: boolean; execArgv?: string[] } = {},
): Child {
  const path = fileURLToPath(new URL(`../${script}`, import.meta.url));
  const child = fork(path, [], {
    execArgv: [...TSX, ...(options.gc ? ['--expose-gc'] : []), ...(options.execArgv ?? [])],
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...options.env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let next = 0;
  const waiting = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  let exited = false;
  const exitedPromise = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.on('message', (raw) => {
    const reply = raw as Reply;
    const waiter = waiting.get(reply.id);
    if (!waiter) return;
    waiting.delete(reply.id);
    if (reply.ok) waiter.resolve(reply.result);
    else waiter.reject(new Error(`${script}: ${reply.error}`));
  });
  child.once('exit', (code, signal) => {
    exited = true;
    for (const waiter of waiting.values()) waiter.reject(new Error(`${script} exited (${code ?? signal})`));
    waiting.clear();
  });
  return {
    process: child,
    request(cmd, args, timeoutMs = 120_000) {
      if (exited) return Promise.reject(new Error(`${script} has exited`));
      const id = ++next;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(id);
          reject(new Error(`${script}: ${cmd} timed out after ${timeoutMs} ms`));
        }, timeoutMs);
        waiting.set(id, {
          resolve: (v) => (clearTimeout(timer), resolve(v)),
          reject: (e) => (clearTimeout(timer), reject(e)),
        });
        child.send({ id, cmd, args } satisfies Request);
      });
    },
    async stop() {
      if (exited) return;
      child.disconnect();
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exitedPromise;
      clearTimeout(killer);
    },
  };
}
