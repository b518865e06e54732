// The real server as a child process that chaos tests kill and start again on the same port and
// the same DATA_DIR, so stored data survives.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ServerRun, type Exit } from '../../support/server-process.js';

export { ServerRun, type Exit };

const REPO = new URL('../../../', import.meta.url).pathname;

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
      STATIC_DIR: path.join(REPO, 'dist'),
      ...this.#env,
      DATA_DIR: this.#dataDir,
      PORT: String(this.#port),
    });
    this.#run = run;
    this.runs.push(run);
    this.#port = Number(new URL(await run.listening()).port);
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
