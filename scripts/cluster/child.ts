import { spawn, type ChildProcess } from 'node:child_process';

/**
 * One process of the local cluster: started, watched for a line that says it is ready, killed
 * with any signal, started again with the same command. Output is kept (the last 64 KB) and,
 * with `echo`, written to this process's stdout with a name in front.
 */
export class Child {
  #process: ChildProcess | null = null;
  #output = '';
  #exited: Promise<void> = Promise.resolve();

  constructor(
    readonly name: string,
    private readonly command: string,
    private readonly args: readonly string[],
    private readonly options: {
      env?: NodeJS.ProcessEnv;
      cwd?: string;
      /** A line that says it is ready, or a probe asked every 100 ms until it says so. */
      ready: RegExp | (() => Promise<boolean>);
      echo?: boolean;
    },
  ) {}

  get running(): boolean {
    return this.#process !== null;
  }

  /** The running process's id (for its CPU time in /proc), or null. */
  get pid(): number | null {
    return this.#process?.pid ?? null;
  }

  get output(): string {
    return this.#output;
  }

  /** Starts it (if not running); resolves once its output matches `ready`. */
  async start(timeoutMs = 30_000): Promise<void> {
    if (this.#process) return;
    const child = spawn(this.command, this.args, {
      env: this.options.env ?? process.env,
      cwd: this.options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#process = child;
    this.#output = '';
    this.#exited = new Promise((resolve) =>
      child.once('exit', () => {
        if (this.#process === child) this.#process = null;
        resolve();
      }),
    );
    const lines = (chunk: Buffer) => {
      const text = chunk.toString();
      this.#output = (this.#output + text).slice(-65_536);
      if (this.options.echo) {
        for (const line of text.split('\n'))
          if (line.trim()) process.stdout.write(`[${this.name}] ${line}\n`);
      }
    };
    child.stdout!.on('data', lines);
    child.stderr!.on('data', lines);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`${this.name} not ready within ${timeoutMs} ms:\n${this.#output}`));
      }, timeoutMs);
      const { ready } = this.options;
      let probing: ReturnType<typeof setInterval> | undefined;
      const check = () => {
        if (ready instanceof RegExp && ready.test(this.#output)) {
          finish();
          resolve();
        }
      };
      if (!(ready instanceof RegExp)) {
        probing = setInterval(() => {
          ready().then(
            (ok) => {
              if (ok && probing !== undefined) {
                finish();
                resolve();
              }
            },
            () => {},
          );
        }, 100);
      }
      const exited = () => {
        finish();
        reject(new Error(`${this.name} exited before it was ready:\n${this.#output}`));
      };
      const finish = () => {
        clearTimeout(timer);
        clearInterval(probing);
        probing = undefined;
        child.stdout!.off('data', check);
        child.stderr!.off('data', check);
        child.off('exit', exited);
      };
      child.stdout!.on('data', check);
      child.stderr!.on('data', check);
      child.once('exit', exited);
      check();
    });
  }

  /** Sends `signal` and resolves once it has exited (SIGKILL after `graceMs`). */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 30_000): Promise<void> {
    const child = this.#process;
    if (!child) return;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await this.#exited;
    clearTimeout(timer);
  }
}
