// A dynalite server of its own (not the server's embedded one), which a test can stop and start
// again on the same port and LevelDB directory, as a DynamoDB endpoint going away and coming back.
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import dynalite from 'dynalite';

export class StandaloneDynalite {
  #server: Server | null = null;
  #stopping: Promise<void> | null = null;
  #port = 0;
  /** Sees each request as it arrives, before dynalite handles it. */
  onRequest: ((request: IncomingMessage) => void) | null = null;

  private constructor(readonly dataDir: string) {}

  static async start(dataDir: string): Promise<StandaloneDynalite> {
    const db = new StandaloneDynalite(dataDir);
    await db.start();
    return db;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /** Listens again on the port it had (a free one the first time), on the same directory. */
  async start(): Promise<void> {
    await this.#stopping;
    const server = dynalite({ path: this.dataDir, createTableMs: 0 });
    server.prependListener('request', (request: IncomingMessage) => this.onRequest?.(request));
    server.on('request', (request: IncomingMessage) => {
      // dynalite throws the 'aborted' error of a request cut by stop(); in a real outage that
      // would happen in DynamoDB's process, not in the test's. (Runs after dynalite's handler.)
      request.removeAllListeners('error');
      request.on('error', () => {});
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#port = (server.address() as AddressInfo).port;
    this.#server = server;
    this.#stopping = null;
  }

  /** Refuses connections from now on and cuts open ones (requests in flight included). */
  stop(): Promise<void> {
    const server = this.#server;
    if (!server) return Promise.resolve();
    this.#stopping ??= new Promise<void>((resolve, reject) => {
      server.close((error) => (error ? reject(error) : resolve()));
      server.closeAllConnections();
    }).then(() => {
      this.#server = null;
    });
    return this.#stopping;
  }
}

/** The DynamoDB operation of a request, from its `X-Amz-Target` (e.g. `PutItem`). */
export function operationOf(request: IncomingMessage): string {
  return String(request.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
}
