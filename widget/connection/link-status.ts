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
