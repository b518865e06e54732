import type { FallbackReason } from './link-state.js';

/** Where a link to the server stands: the socket's life, as a tab's panels see it. */
export type LinkStatus =
  | { kind: 'idle' }
  /** An attempt is under way. */
  | { kind: 'connecting' }
  /** The server said hello; subscriptions were sent. */
  | { kind: 'open' }
  /**
   * Waiting to retry at `nextRetryAt`. `fallback` says live updates should come from polling
   * meanwhile (it stays set until the link proves stable again).
   */
  | { kind: 'down'; nextRetryAt: number; fallback: FallbackReason | null };

export const IDLE: LinkStatus = { kind: 'idle' };

/** A link's status, changed in one place; listeners hear each real change once. */
export class StatusSource {
  #status = IDLE;
  readonly #listeners = new Set<(status: LinkStatus) => void>();

  get status(): LinkStatus {
    return this.#status;
  }

  onStatus(listener: (status: LinkStatus) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  setStatus(next: LinkStatus): void {
    // Statuses are small flat objects: equal JSON is the same status.
    if (JSON.stringify(next) === JSON.stringify(this.#status)) return;
    this.#status = next;
    for (const listener of [...this.#listeners]) listener(next);
  }
}
