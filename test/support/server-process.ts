// The real CLI (`node --import tsx server/main.ts`) as a child process, for the tests that kill
// it, restart it or watch it refuse to start (integration and chaos suites).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';

const REPO = new URL('../../', import.meta.url).pathname;
const MAIN = new URL('../../server/main.ts', import.meta.url).pathname;
/** The line main.ts prints once the port is bound. */
const LISTENING = /agent-task-status listening on (http:\/\/\S+)/;

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * One server process. Its environment is pinned so that the developer's shell cannot redirect it
 * (an AWS_REGION in the environment would send it to AWS): embedded dynalite, a free port, no
 * admin token, no rate limit, no demo agents, no static files, unless `env` says otherwise.
 */
export class ServerRun {
  readonly child: ChildProcessWithoutNullStreams;
  readonly exited: Promise<Exit>;
  #output = '';
  #stdout = '';
  #stderr = '';
  #exit: Exit | null = null;
  readonly #watchers = new Set<() => void>();

  constructor(env: Record<string, string> = {}) {
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
      this.#collect(chunk);
    });
    this.child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      this.#stderr += chunk;
      this.#collect(chunk);
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.#exit = { code, signal };
        this.#notify();
        resolve(this.#exit);
      });
    });
  }

  static start(env: Record<string, string> = {}): ServerRun {
    return new ServerRun(env);
  }

  /** stdout and stderr, interleaved as they came. */
  get output(): string {
    return this.#output;
  }

  get stdout(): string {
    return this.#stdout;
  }

  get stderr(): string {
    return this.#stderr;
  }

  get exit(): Exit | null {
    return this.#exit;
  }

  /** Resolves with the URL of the "listening on" line; rejects if the process exits first. */
  async listening(timeoutMs = 20_000): Promise<string> {
    return (await this.waitFor(LISTENING, timeoutMs))[1]!;
  }

  /** Resolves once `pattern` appears in the output; rejects on exit or after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs = 20_000): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const finish = () => {
        clearTimeout(timer);
        this.#watchers.delete(check);
      };
      const check = () => {
        const match = pattern.exec(this.#output);
        if (match) {
          finish();
          resolve(match);
        } else if (this.#exit) {
          finish();
          reject(
            new Error(`server exited ${JSON.stringify(this.#exit)} before ${pattern}:\n${this.#output}`),
          );
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`no ${pattern} within ${timeoutMs} ms:\n${this.#output}`));
      }, timeoutMs);
      this.#watchers.add(check);
      check();
    });
  }

  /** Sends `signal` (unless the process is already gone) and resolves once it has exited. */
  kill(signal: NodeJS.Signals): Promise<Exit> {
    if (this.#exit === null) this.child.kill(signal);
    return this.exited;
  }

  #collect(chunk: string): void {
    this.#output += chunk;
    this.#notify();
  }

  #notify(): void {
    for (const watcher of [...this.#watchers]) watcher();
  }
}
