import type { WebSocket } from 'ws';

/**
 * The classic dead-peer check of the `ws` README: every interval, a peer that has not answered
 * the previous ping is terminated, and the others are pinged again. So a peer that vanished
 * (laptop lid closed, NAT dropped) is gone after at most two intervals, freeing its buffers.
 *
 * One map (socket → answered since the last sweep) and two listeners shared by every socket
 * (`this` is the socket), so watching a socket allocates no closures: memory per idle connection
 * is a budget (BENCHMARKS.md).
 */
export class Heartbeat {
  readonly #alive = new Map<WebSocket, boolean>();
  readonly #timer: NodeJS.Timeout;
  readonly #onPong: (this: WebSocket) => void;
  readonly #onClose: (this: WebSocket) => void;

  /** `onTick`: also run at every sweep (the sessions' viewer-token expiry). */
  constructor(
    intervalMs: number,
    private readonly onTick?: () => void,
  ) {
    const alive = this.#alive;
    this.#onPong = function onPong(this: WebSocket) {
      if (alive.has(this)) alive.set(this, true);
    };
    this.#onClose = function onClose(this: WebSocket) {
      alive.delete(this);
    };
    this.#timer = setInterval(() => this.#sweep(), intervalMs);
    this.#timer.unref();
  }

  watch(ws: WebSocket): void {
    this.#alive.set(ws, true);
    ws.on('pong', this.#onPong);
    ws.on('close', this.#onClose);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  #sweep(): void {
    for (const [ws, answered] of this.#alive) {
      if (!answered) {
        this.#alive.delete(ws);
        ws.terminate();
        continue;
      }
      this.#alive.set(ws, false);
      ws.ping();
    }
    this.onTick?.();
  }
}
