// A TCP relay in front of a DynamoDB endpoint that can freeze: connections are still accepted (as
// by a hung process, whose kernel keeps accepting) but never answered.
import net from 'node:net';

export class FreezableEndpoint {
  readonly #server: net.Server;
  readonly #open = new Set<net.Socket>();
  #frozen = false;

  private constructor(readonly upstreamPort: number) {
    this.#server = net.createServer((socket) => this.#accept(socket));
  }

  static async start(upstreamPort: number): Promise<FreezableEndpoint> {
    const relay = new FreezableEndpoint(upstreamPort);
    await new Promise<void>((resolve) => relay.#server.listen(0, '127.0.0.1', resolve));
    return relay;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${(this.#server.address() as net.AddressInfo).port}`;
  }

  /**
   * From now on requests go unanswered. Open connections are cut first, so that none is caught
   * half-way and DynamoDB never sees a partial request.
   */
  freeze(): void {
    this.#cutAll();
    this.#frozen = true;
  }

  /** Answers again; connections that were held while frozen are cut. */
  thaw(): void {
    this.#cutAll();
    this.#frozen = false;
  }

  async close(): Promise<void> {
    this.#cutAll();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(socket: net.Socket): void {
    this.#open.add(socket);
    socket.on('close', () => this.#open.delete(socket));
    socket.on('error', () => {});
    if (this.#frozen) {
      socket.resume(); // read and drop: the request is received, no answer ever comes
      return;
    }
    const upstream = net.connect(this.upstreamPort, '127.0.0.1');
    this.#open.add(upstream);
    upstream.on('close', () => {
      this.#open.delete(upstream);
      socket.destroy();
    });
    upstream.on('error', () => {});
    socket.on('close', () => upstream.destroy());
    socket.pipe(upstream).pipe(socket);
  }

  #cutAll(): void {
    for (const socket of this.#open) socket.destroy();
    this.#open.clear();
  }
}
