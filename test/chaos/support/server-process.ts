// The real server (`node --import tsx server/main.ts`) as a child process that chaos tests kill
// and start again on the same port and the same DATA_DIR, so stored data survives.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

const REPO = new URL('../../../', import.meta.url).pathname;
const MAIN = path.join(REPO, 'server/main.ts');
/** The line main.ts prints once the port is bound. */
const LISTENING = /agent-task-status listening on http:\/\/[^:]+:(\d+)/;

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One run of the server process. */
export class ServerRun {
  readonly child: ChildProcessWithoutNullStreams;
  readonly exited: Promise<Exit>;
  #output = '';
  #exit: Exit | null = null;
  readonly #watchers = new Set<() => void>();

  constructor(env: Record<string, string>) {
    this.child = spawn(process.execPath, ['--import', 'tsx', MAIN], { cwd: REPO, env });
    const collect = (chunk: string) => {
      this.#output += chunk;
      for (const watcher of [...this.#watchers]) watcher();
    };
    this.child.stdout.setEncoding('utf8').on('data', collect);
    this.child.stderr.setEncoding('utf8').on('data', collect);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.#exit = { code, signal };
        for (const watcher of [...this.#watchers]) watcher();
        resolve(this.#exit);
      });
    });
  }

  /** stdout and stderr, interleaved as they came. */
  get output(): string {
    return this.#output;
  }

  get exit(): Exit | null {
    return this.#exit;
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

  kill(signal: NodeJS.Signals): Promise<Exit> {
    if (this.#exit === null) this.child.kill(signal);
    return this.exited;
  }
}

/**
 * The server under test across restarts: the first start picks a free port, later starts reuse
 * it, and DATA_DIR (embedded dynalite) is kept, so a restart looks like the same server coming
 * back. The environment is pinned so the developer's shell cannot redirect it.
 */
export class ServerProcess {
  readonly #env: Record<string, string>;
  #dataDir: string | null = null;
  #port = 0;
  #run: ServerRun | null = null;
  readonly runs: ServerRun[] = [];

  constructor(env: Record<string, string> = {}) {
    this.#env = env;
  }

  get port(): number {
    return this.#port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  get current(): ServerRun {
    if (!this.#run) throw new Error('the server is not running');
    return this.#run;
  }

  async start(): Promise<void> {
    this.#dataDir ??= await mkdtemp(path.join(tmpdir(), 'ats-chaos-'));
    const run = new ServerRun({
      ...process.env,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      HOST: '127.0.0.1',
      STORE: 'dynamodb',
      DYNAMODB_ENDPOINT: '',
      AWS_REGION: '',
      ADMIN_TOKEN: '',
      RATE_LIMIT_PER_MINUTE: '0',
      DEMO: '0',
      STATIC_DIR: path.join(REPO, 'dist'),
      ...this.#env,
      DATA_DIR: this.#dataDir,
      PORT: String(this.#port),
    });
    this.#run = run;
    this.runs.push(run);
    const [, port] = await run.waitFor(LISTENING);
    this.#port = Number(port);
  }

  /** Kills the process (SIGKILL: no goodbye at all) and waits until it is gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<Exit> {
    const run = this.current;
    this.#run = null;
    return run.kill(signal);
  }

  /** Stops the process if it runs and removes its data. */
  async dispose(): Promise<void> {
    if (this.#run) await this.kill('SIGKILL');
    if (this.#dataDir) await rm(this.#dataDir, { recursive: true, force: true });
  }
}
