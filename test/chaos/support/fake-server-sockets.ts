// A simulated WebSocket server for SocketLink, on a fake clock: thousands of links connect,
// are told to come back (1012), and reconnect, all without real sockets or real time.
import { PROTOCOL_VERSION } from '../../../protocol/constants.js';
import type { SocketLike, WebSocketCtor } from '../../../widget/connection/socket-link.js';
import type { FakeClock } from '../../widget/helpers/fake-clock.js';

const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 3;

type Listener = (event: Event) => void;

/** One client socket; the simulated server drives its events. */
export class SimSocket implements SocketLike {
  readyState = CONNECTING;
  readonly #listeners = new Map<string, Set<Listener>>();

  constructor(
    readonly url: string,
    readonly openedAt: number,
  ) {}

  send(data: string): void {
    if (this.readyState !== OPEN) throw new Error('send on a socket that is not open');
    this.onSend?.(JSON.parse(data) as { type: string });
  }

  close(): void {
    this.readyState = CLOSED;
  }

  addEventListener(type: string, listener: Listener): void {
    let set = this.#listeners.get(type);
    if (!set) this.#listeners.set(type, (set = new Set()));
    set.add(listener);
  }

  removeEventListener(type: string, listener: Listener): void {
    this.#listeners.get(type)?.delete(listener);
  }

  onSend: ((message: { type: string }) => void) | null = null;

  /** Server side: the message event a browser would fire. */
  deliver(message: object): void {
    this.#fire('message', { data: JSON.stringify(message) } as unknown as Event);
  }

  /** Server side: the socket closes with `code` (1006: it never opened, or was cut). */
  closeWith(code: number): void {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    this.#fire('close', { code } as unknown as Event);
  }

  markOpen(): void {
    this.readyState = OPEN;
  }

  #fire(type: string, event: Event): void {
    for (const listener of [...(this.#listeners.get(type) ?? [])]) listener(event);
  }
}

/**
 * The server the links talk to. While up, a new socket opens after `connectMs` and gets hello;
 * while down, it fails (1006) after `connectMs`, like a refused connection. It answers pings.
 */
export class SimServer {
  readonly sockets: SimSocket[] = [];
  /** Every connection attempt: when, and whether the server was up to take it. */
  readonly attempts: { at: number; accepted: boolean }[] = [];
  #up = true;
  readonly WebSocket: WebSocketCtor;

  constructor(
    readonly clock: FakeClock,
    readonly heartbeatMs = 25_000,
    readonly connectMs = 1,
  ) {
    const server = this;
    this.WebSocket = class {
      constructor(url: string) {
        return server.#connect(url);
      }
    } as unknown as WebSocketCtor;
  }

  get up(): boolean {
    return this.#up;
  }

  /** Open sockets. */
  get open(): SimSocket[] {
    return this.sockets.filter((socket) => socket.readyState === OPEN);
  }

  /** Goes down, closing every open socket with `code`. */
  goDown(code: number): void {
    this.#up = false;
    for (const socket of this.open) socket.closeWith(code);
  }

  comeUp(): void {
    this.#up = true;
  }

  #connect(url: string): SimSocket {
    const socket = new SimSocket(url, this.clock.now());
    this.sockets.push(socket);
    const accepted = this.#up;
    this.attempts.push({ at: this.clock.now(), accepted });
    this.clock.setTimeout(() => {
      if (socket.readyState !== CONNECTING) return; // abandoned by the client meanwhile
      if (!this.#up) {
        socket.closeWith(1006);
        return;
      }
      socket.markOpen();
      socket.onSend = (message) => {
        if (message.type === 'ping') this.clock.setTimeout(() => socket.deliver({ type: 'pong' }), 1);
      };
      socket.deliver({ type: 'hello', protocol: PROTOCOL_VERSION, heartbeatMs: this.heartbeatMs });
    }, this.connectMs);
    return socket;
  }
}

/** The most events any window of `windowMs` holds (a sliding window over sorted times). */
export function busiestWindow(
  times: readonly number[],
  windowMs: number,
): { count: number; startsAt: number } {
  const sorted = [...times].sort((a, b) => a - b);
  let best = { count: 0, startsAt: sorted[0] ?? 0 };
  for (let start = 0, end = 0; start < sorted.length; start++) {
    while (end < sorted.length && sorted[end]! < sorted[start]! + windowMs) end++;
    if (end - start > best.count) best = { count: end - start, startsAt: sorted[start]! };
  }
  return best;
}
