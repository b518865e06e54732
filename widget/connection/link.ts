import type { ServerMessage } from '../../protocol/ws-messages.js';
import type { FeedKey } from './feed-key.js';
import type { LinkStatus } from './link-status.js';
import type { PollResult } from './poller.js';

/** A server message about one key: a subscribe's answer (snapshot, agent-task, error) or news. */
export type StreamMessage = Exclude<ServerMessage, { type: 'hello' } | { type: 'pong' }>;

/**
 * What a panel hears on a key. `requested` is the cursor the answered request asked from (for a
 * request shared by several panels or tabs, the lowest of theirs); null for a tail, and for news,
 * which answers no request.
 */
export type LinkEvent =
  | { source: 'socket'; message: StreamMessage; requested: number | null }
  | { source: 'poll'; result: PollResult; requested: number | null };

/** A panel's interest in a key. */
export interface Listener {
  /** Where the panel's merge stands (task keys); asked at each (re)subscribe and poll. */
  cursor?(): number | null;
  /** The panel's viewer token, if it has one; asked at each (re)subscribe and poll. */
  token?(): string | null;
  on(event: LinkEvent): void;
}

/**
 * What a task feed needs from the connection to one endpoint: the live streams (multiplexed,
 * resubscribed from the cursors) and polls, each shared by every panel of the browser on its key.
 */
export interface Link {
  readonly status: LinkStatus;
  onStatus(listener: (status: LinkStatus) => void): () => void;
  /** Follows `key` until the returned function is called; `intervalMs` paces a polled key. */
  join(key: FeedKey, listener: Listener, intervalMs?: number): () => void;
  /** Asks the key's upstream again: a fresh snapshot from the cursors, or a poll now. */
  again(key: FeedKey): void;
  /** Skip the backoff wait. */
  retryNow(): void;
  /** The reader is back: prove the socket now (see SocketLink.probe). */
  probe(): void;
}
