// The agent: POSTs status to a task over keep-alive HTTP, stamped with performance.now() in the
// message so subscribers in this same process can measure POST-to-receive latency.
import { Agent, request } from 'node:http';

export interface TaskHandle {
  id: string;
  token: string;
}

export class BenchAgent {
  readonly #agent: Agent;
  constructor(
    readonly port: number,
    sockets: number,
  ) {
    this.#agent = new Agent({ keepAlive: true, maxSockets: sockets });
  }

  call(
    method: string,
    path: string,
    body: unknown,
    token?: string,
  ): Promise<{ status: number; body: string }> {
    const payload = Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: this.port,
          method,
          path,
          agent: this.#agent,
          headers: {
            'content-type': 'application/json',
            'content-length': payload.length,
            ...(token ? { authorization: `Bearer ${token}` } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
          );
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  async createTask(id: string): Promise<TaskHandle> {
    const res = await this.call('POST', '/api/agent-tasks', {
      agentId: `agent-${id}`,
      id,
      title: `bench ${id}`,
    });
    if (res.status !== 201) throw new Error(`create ${id}: ${res.status} ${res.body}`);
    return { id, token: (JSON.parse(res.body) as { agentToken: string }).agentToken };
  }

  post(task: TaskHandle, body: unknown): Promise<number> {
    return this.call('POST', `/api/agent-tasks/${task.id}/status`, body, task.token).then((r) => r.status);
  }

  /** A status update carrying its send time. */
  stamped(task: TaskHandle, n: number): Promise<number> {
    return this.post(task, {
      progress: n % 100,
      message: `step ${n}: bench t=${performance.now().toFixed(3)}`,
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}
