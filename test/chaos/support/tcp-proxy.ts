// A TCP proxy for fault injection, between the clients (browser or Node) and the server. It
// forwards bytes untouched, and on command drops connections, stalls them silently (half-open:
// nothing forwarded either way, nothing closed), or refuses WebSocket upgrades.
import { once } from 'node:events';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';

/** What a connection carries, known from its first request head. */
export type ConnectionKind = 'websocket' | 'http';

/** Which connections a fault applies to. */
export type Selector = ConnectionKind | 'all';

/**
 * How upgrades are refused: `503` answers like an overloaded load balancer; `close` hangs up
 * without a word, like a proxy that does not speak WebSocket.
 */
export type Refusal = '503' | 'close';

/**
 * `both`: a dead path (a NAT that forgot the flow, a laptop asleep): nothing passes either way,
 * nobody is told; what the server sends is held, as a network would retransmit it later.
 * `to-client`: the client stops reading (a slow consumer): the server's data backs up into its
 * own buffers, exactly as with a client that does not read.
 */
export type StallDirection = 'both' | 'to-client';

type Held = 'no' | 'held' | 'paused';

interface Connection {
  readonly id: number;
  readonly client: Socket;
  upstream: Socket | null;
  kind: ConnectionKind | null;
  /** Client → server: forwarded, or the client side paused. */
  toServer: 'no' | 'paused';
  /** Server → client: forwarded, read and held back, or the server side paused. */
  toClient: Held;
  held: Buffer[];
  /** How the server side ended while server → client was stalled: passed on at resume. */
  serverEnded: 'end' | 'error' | null;
  /** When the server side ended or was reset (epoch ms), stalled or not. */
  serverGoneAt: number | null;
}

export interface ProxyCounters {
  accepted: number;
  upgradesPassed: number;
  upgradesRefused: number;
  dropped: number;
}

export interface ConnectionInfo {
  id: number;
  kind: ConnectionKind | null;
  stalled: boolean;
  serverGoneAt: number | null;
}

/** The largest request head read before deciding what a connection is. */
const HEAD_LIMIT = 64 * 1024;

export class TcpProxy {
  readonly #server: Server;
  readonly #target: { host: string; port: number };
  readonly #connections = new Map<number, Connection>();
  #nextId = 1;
  #refusal: Refusal | null = null;
  #unreachable = false;
  readonly counters: ProxyCounters = { accepted: 0, upgradesPassed: 0, upgradesRefused: 0, dropped: 0 };

  private constructor(target: { host: string; port: number }) {
    this.#target = target;
    this.#server = createServer((client) => this.#accept(client));
  }

  /** Listens on 127.0.0.1 (port 0: any free port) and forwards to `target`. */
  static async start(target: { host?: string; port: number }, port = 0): Promise<TcpProxy> {
    const proxy = new TcpProxy({ host: target.host ?? '127.0.0.1', port: target.port });
    proxy.#server.listen(port, '127.0.0.1');
    await once(proxy.#server, 'listening');
    return proxy;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  /** Base URL of the server through the proxy. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Refuse every new WebSocket upgrade (`false`: let them through again). Plain HTTP passes. */
  refuseUpgrades(refusal: Refusal | false): void {
    this.#refusal = refusal === false ? null : refusal;
  }

  /**
   * The server as if its host were down (`false`: back): every open connection is cut, and every
   * new one is reset as soon as it is accepted, before a byte is read.
   */
  unreachable(down: boolean): void {
    this.#unreachable = down;
    if (down) this.drop('all');
  }

  /** Open connections of a kind (all of them by default). */
  count(selector: Selector = 'all'): number {
    return this.#select(selector).length;
  }

  connections(): ConnectionInfo[] {
    return [...this.#connections.values()].map((conn) => ({
      id: conn.id,
      kind: conn.kind,
      stalled: conn.toClient !== 'no' || conn.toServer !== 'no',
      serverGoneAt: conn.serverGoneAt,
    }));
  }

  /** Cuts the matching connections on both sides at once (a reset, as a crashed box would). */
  drop(selector: Selector = 'all'): number {
    const victims = this.#select(selector);
    for (const conn of victims) this.#destroy(conn);
    this.counters.dropped += victims.length;
    return victims.length;
  }

  /**
   * Stops forwarding on the matching open connections without closing anything (see
   * StallDirection); a close by the server is not passed on while stalled. Returns their ids.
   * New connections are not affected.
   */
  stall(selector: Selector = 'all', direction: StallDirection = 'both'): number[] {
    const victims = this.#select(selector).filter((conn) => conn.upstream !== null);
    for (const conn of victims) {
      if (direction === 'both') {
        conn.toClient = 'held';
        conn.toServer = 'paused';
        conn.client.pause();
      } else {
        conn.toClient = 'paused';
        conn.upstream!.pause();
      }
    }
    return victims.map((conn) => conn.id);
  }

  /** Forwards again on every stalled connection: held data first, then any held close. */
  resume(): void {
    for (const conn of [...this.#connections.values()]) {
      if (conn.toServer === 'paused') {
        conn.toServer = 'no';
        conn.client.resume();
      }
      if (conn.toClient === 'no') continue;
      const wasPaused = conn.toClient === 'paused';
      conn.toClient = 'no';
      for (const chunk of conn.held.splice(0)) conn.client.write(chunk);
      if (wasPaused) conn.upstream?.resume();
      if (conn.serverEnded === 'end') conn.client.end();
      else if (conn.serverEnded === 'error') this.#destroy(conn);
    }
  }

  /** Stops listening and cuts every connection. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const conn of [...this.#connections.values()]) this.#destroy(conn);
    await closed;
  }

  #select(selector: Selector): Connection[] {
    return [...this.#connections.values()].filter(
      (conn) => conn.kind !== null && (selector === 'all' || conn.kind === selector),
    );
  }

  #accept(client: Socket): void {
    this.counters.accepted += 1;
    if (this.#unreachable) {
      client.resetAndDestroy();
      return;
    }
    const conn: Connection = {
      id: this.#nextId++,
      client,
      upstream: null,
      kind: null,
      toServer: 'no',
      toClient: 'no',
      held: [],
      serverEnded: null,
      serverGoneAt: null,
    };
    this.#connections.set(conn.id, conn);
    client.setNoDelay(true);
    client.on('error', () => {
      // A client reset while client → server is stalled is not passed on (the server must find
      // out by itself); otherwise it cuts the server side too.
      if (conn.toServer === 'paused') client.destroy();
      else this.#destroy(conn);
    });
    client.on('close', () => {
      if (conn.toServer !== 'paused') this.#connections.delete(conn.id);
    });

    // Read the first request head to know what the connection is, then decide.
    let head = Buffer.alloc(0);
    const onHead = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1 && head.length < HEAD_LIMIT) return;
      client.off('data', onHead);
      client.pause();
      const text = head.subarray(0, end === -1 ? head.length : end).toString('latin1');
      conn.kind = /^upgrade:\s*websocket\s*$/im.test(text) ? 'websocket' : 'http';
      if (conn.kind === 'websocket' && this.#refusal !== null) {
        this.counters.upgradesRefused += 1;
        this.#refuse(conn, this.#refusal);
        return;
      }
      if (conn.kind === 'websocket') this.counters.upgradesPassed += 1;
      this.#connectUpstream(conn, head);
    };
    client.on('data', onHead);
  }

  #refuse(conn: Connection, refusal: Refusal): void {
    if (refusal === 'close') {
      this.#destroy(conn);
      return;
    }
    const body = JSON.stringify({ error: { code: 'unavailable', message: 'upgrades refused by the proxy' } });
    conn.client.end(
      'HTTP/1.1 503 Service Unavailable\r\n' +
        'Content-Type: application/json\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        'Retry-After: 5\r\n' +
        'Connection: close\r\n\r\n' +
        body,
    );
  }

  #connectUpstream(conn: Connection, head: Buffer): void {
    const { client } = conn;
    const upstream = connect(this.#target.port, this.#target.host);
    conn.upstream = upstream;
    upstream.setNoDelay(true);
    upstream.write(head);

    client.on('data', (chunk: Buffer) => {
      if (!upstream.write(chunk)) {
        client.pause();
        upstream.once('drain', () => {
          if (conn.toServer === 'no') client.resume();
        });
      }
    });
    upstream.on('data', (chunk: Buffer) => {
      if (conn.toClient === 'held') {
        conn.held.push(chunk);
        return;
      }
      if (!client.write(chunk)) {
        upstream.pause();
        client.once('drain', () => {
          if (conn.toClient === 'no') upstream.resume();
        });
      }
    });
    client.on('end', () => upstream.end());
    // The server closing (or being killed, or refusing the connection because it is down) is
    // passed on to the client as it would be without the proxy, unless server → client is
    // stalled: then the client hears of it only on resume.
    const serverGone = (how: 'end' | 'error') => {
      conn.serverGoneAt ??= Date.now();
      if (conn.toClient !== 'no') {
        conn.serverEnded ??= how;
        return;
      }
      if (how === 'end') client.end();
      else this.#destroy(conn);
    };
    upstream.on('end', () => serverGone('end'));
    upstream.on('error', () => serverGone('error'));
    upstream.on('close', () => {
      if (conn.serverGoneAt === null) serverGone('error');
    });
    client.resume();
  }

  #destroy(conn: Connection): void {
    this.#connections.delete(conn.id);
    conn.client.destroy();
    conn.upstream?.destroy();
  }
}
