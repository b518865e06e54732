import type { WebSocket } from 'ws';

/**
 * The classic dead-peer check of the `ws` README: every interval, a peer that has not answered
 * the previous ping is terminated, and the others are pinged again. So a peer that vanished
 * (laptop lid closed, NAT dropped) is gone after at most two intervals, freeing its buffers.
 */
export class Heartbeat {
  readonly #alive = new WeakMap<WebSocket, boolean>();
  readonly #sockets = new Set<WebSocket>();
  readonly #timer: NodeJS.Timeout;

  constructor(intervalMs: number) {
    this.#timer = setInterval(() => this.#sweep(), intervalMs);
    this.#timer.unref();
  }

  watch(ws: WebSocket): void {
    this.#alive.set(ws, true);
    this.#sockets.add(ws);
    ws.on('pong', () => this.#alive.set(ws, true));
    ws.once('close', () => this.#sockets.delete(ws));
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  #sweep(): void {
    for (const ws of this.#sockets) {
      if (this.#alive.get(ws) === false) {
        this.#sockets.delete(ws);
        ws.terminate();
        continue;
      }
      this.#alive.set(ws, false);
      ws.ping();
    }
  }
}
