// The real CLI (`node --import tsx server/main.ts`) as a child process, for tests that kill it.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';

const MAIN = new URL('../../../../server/main.ts', import.meta.url).pathname;
const REPO = new URL('../../../../', import.meta.url).pathname;

/** The line main.ts prints once the port is bound. */
const LISTENING = /agent-task-status listening on (http:\/\/\S+)/;

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * One server process. Its environment is pinned so that the developer's shell cannot redirect it
 * (an AWS_REGION in the environment would send it to AWS): embedded dynalite under `DATA_DIR`,
 * no admin token, no rate limit, no demo agents.
 */
export class ServerProcess {
  readonly child: ChildProcessWithoutNullStreams;
  readonly exited: Promise<Exit>;
  #exit: Exit | null = null;
  #stdout = '';
  #stderr = '';
  readonly #watchers = new Set<() => void>();

  private constructor(env: Record<string, string>) {
    this.child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
      cwd: REPO,
      env: {
        ...process.env,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        PORT: '0',
        HOST: '127.0.0.1',
        STORE: 'dynamodb',
        DYNAMODB_ENDPOINT: '',
        AWS_REGION: '',
        ADMIN_TOKEN: '',
        RATE_LIMIT_PER_MINUTE: '0',
        DEMO: '0',
        STATIC_DIR: '/nonexistent/agent-task-status-dist',
        ...env,
      },
    });
    this.child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      this.#stdout += chunk;
      this.#notify();
    });
    this.child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      this.#stderr += chunk;
      this.#notify();
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.#exit = { code, signal };
        this.#notify();
        resolve(this.#exit);
      });
    });
  }

  static start(env: Record<string, string>): ServerProcess {
    return new ServerProcess(env);
  }

  get stdout(): string {
    return this.#stdout;
  }

  get stderr(): string {
    return this.#stderr;
  }

  /** Resolves with the URL of the "listening on" line; rejects if the process exits first. */
  listening(timeoutMs = 20_000): Promise<string> {
    return this.#waitFor(timeoutMs, 'a "listening on" line', () => {
      const url = LISTENING.exec(this.#stdout)?.[1];
      if (url) return url;
      if (this.#exit) throw new Error(`the server exited (${JSON.stringify(this.#exit)}) before listening`);
      return undefined;
    });
  }

  /** Sends `signal` (unless the process is already gone) and resolves once it has exited. */
  kill(signal: NodeJS.Signals): Promise<Exit> {
    if (this.#exit === null) this.child.kill(signal);
    return this.exited;
  }

  /** Re-checks `probe` on every output chunk and on exit until it returns a value or throws. */
  #waitFor<T>(timeoutMs: number, what: string, probe: () => T | undefined): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const fail = (error: Error) => {
        finish();
        reject(new Error(`${error.message}\n--- stdout\n${this.#stdout}--- stderr\n${this.#stderr}`));
      };
      const check = () => {
        try {
          const value = probe();
          if (value !== undefined) {
            finish();
            resolve(value);
          }
        } catch (error) {
          fail(error as Error);
        }
      };
      const timer = setTimeout(() => fail(new Error(`no ${what} within ${timeoutMs} ms`)), timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        this.#watchers.delete(check);
      };
      this.#watchers.add(check);
      check();
    });
  }

  #notify(): void {
    for (const watcher of [...this.#watchers]) watcher();
  }
}
