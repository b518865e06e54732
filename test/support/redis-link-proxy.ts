// A TCP proxy in front of Redis for one instance's links (from a cold review of the Redis bus):
// it cuts them, refuses new ones, or holds what the client sends, never forwarding it (a command
// in flight when the link drops), while other instances stay connected to Redis directly.
import { once } from 'node:events';
import net from 'node:net';

export class RedisLinkProxy {
  readonly #server: net.Server;
  readonly #pairs = new Set<[net.Socket, net.Socket]>();
  /** New links are refused while set. */
  blocked = false;
  /** What clients send is kept here instead of forwarded while `holding`. */
  holding = false;
  held = '';
  port = 0;

  private constructor(targetPort: number) {
    this.#server = net.createServer((client) => {
      if (this.blocked) {
        client.destroy();
        return;
      }
      const upstream = net.connect(targetPort, '127.0.0.1');
      const pair: [net.Socket, net.Socket] = [client, upstream];
      this.#pairs.add(pair);
      client.on('data', (chunk: Buffer) => {
        if (this.holding) this.held += chunk.toString('latin1');
        else upstream.write(chunk);
      });
      upstream.on('data', (chunk) => client.write(chunk));
      const end = () => {
        client.destroy();
        upstream.destroy();
        this.#pairs.delete(pair);
      };
      for (const socket of pair) {
        socket.on('close', end);
        socket.on('error', end);
      }
    });
  }

  static async start(targetPort: number): Promise<RedisLinkProxy> {
    const proxy = new RedisLinkProxy(targetPort);
    proxy.#server.listen(0, '127.0.0.1');
    await once(proxy.#server, 'listening');
    proxy.port = (proxy.#server.address() as net.AddressInfo).port;
    return proxy;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Cuts every link through it. */
  cut(): void {
    for (const [a, b] of this.#pairs) {
      a.destroy();
      b.destroy();
    }
    this.#pairs.clear();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise((resolve) => this.#server.close(resolve));
  }
}

/** Resolves once `test` holds, checking every 20 ms; rejects after `timeoutMs`. */
export async function until(
  what: string,
  test: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
