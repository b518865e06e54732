import { ROUTES, type Phase } from '../../protocol/index.js';

export interface SimulatedAgentOptions {
  /** The server to post to, e.g. http://127.0.0.1:8787. */
  baseUrl: string;
  agentId: string;
  adminToken?: string;
  /** Every `failEvery`-th task fails, so the demo shows the failed outcome. */
  failEvery?: number;
  /** Milliseconds between steps; the demo uses about a second. */
  stepMs?: number;
}

const WORK = [
  'Fetching repository metadata',
  'Resolving 214 dependencies',
  'Running static analysis on src/',
  'Indexing 1,832 files',
  'Summarising findings',
  'Drafting the pull request description',
  'Uploading artifacts (3.2 MB)',
];

/**
 * A stand-in for a real agent, for the demo: it talks to the server over HTTP exactly as an agent
 * would (create a task, then POST status and log lines with its task token), in a loop.
 */
export class SimulatedAgent {
  #running = false;
  #timer: NodeJS.Timeout | undefined;
  #tasksRun = 0;
  #wake: (() => void) | undefined;
  /** The id of the first task this agent created (the demo pins a panel to it). */
  firstTaskId: string | undefined;

  constructor(private readonly options: SimulatedAgentOptions) {}

  get running(): boolean {
    return this.#running;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    void this.#loop();
  }

  stop(): void {
    this.#running = false;
    clearTimeout(this.#timer);
    this.#wake?.();
  }

  async #loop(): Promise<void> {
    while (this.#running) {
      try {
        await this.#runTask();
      } catch (error) {
        console.error(`[demo agent ${this.options.agentId}]`, error instanceof Error ? error.message : error);
      }
      await this.#pause(4);
    }
  }

  async #runTask(): Promise<void> {
    const n = ++this.#tasksRun;
    const fails = n % (this.options.failEvery ?? 3) === 0;
    const created = await this.#request(ROUTES.tasks, {
      agentId: this.options.agentId,
      title: `${this.options.agentId}: task #${n}`,
    });
    const { task, agentToken } = created as { task: { id: string }; agentToken: string };
    this.firstTaskId ??= task.id;
    const post = (body: object) => this.#request(ROUTES.taskStatus(task.id), body, agentToken);

    await post({
      phase: 'starting',
      message: 'Spinning up a sandbox',
      logs: [{ message: 'Sandbox requested' }],
    });
    await this.#pause(1);
    await post({ phase: 'running', progress: 0, message: 'Working', logs: [{ message: 'Sandbox ready' }] });
    for (let step = 0; step < WORK.length && this.#running; step++) {
      await this.#pause(1);
      const burst = Array.from({ length: 1 + Math.floor(Math.random() * 6) }, (_, i) => ({
        level: Math.random() < 0.1 ? 'warn' : 'info',
        message: `${WORK[step]}${i > 0 ? ` (${i}/${WORK.length})` : ''}`,
      }));
      if (fails && step === 4) {
        await post({
          phase: 'failed' satisfies Phase,
          message: 'Static analysis found a blocking error',
          logs: [
            ...burst,
            { level: 'error', message: 'error TS2345: Argument of type "string" is not assignable' },
          ],
        });
        return;
      }
      await post({ progress: Math.round(((step + 1) / WORK.length) * 95), message: WORK[step], logs: burst });
    }
    if (!this.#running) {
      await post({
        phase: 'cancelled',
        message: 'The agent was stopped',
        logs: [{ level: 'warn', message: 'Stopped by the operator' }],
      });
      return;
    }
    await post({ phase: 'completing', progress: 100, message: 'Cleaning up' });
    await this.#pause(1);
    await post({
      phase: 'completed',
      message: 'Done: pull request #128 opened',
      logs: [{ message: 'All done' }],
    });
  }

  async #request(path: string, body: object, token = this.options.adminToken): Promise<unknown> {
    const response = await fetch(new URL(path, this.options.baseUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    const json = (await response.json()) as unknown;
    if (!response.ok) throw new Error(`${path} answered ${response.status}: ${JSON.stringify(json)}`);
    return json;
  }

  #pause(steps: number): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve;
      this.#timer = setTimeout(resolve, steps * (this.options.stepMs ?? 1_000));
    });
  }
}
