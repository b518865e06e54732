import type { ConnectionState } from './task-feed-types.js';

/** Consecutive failed polls before a polling panel says the server is unreachable. */
export const POLL_FAILURES_BEFORE_OFFLINE = 3;

/** Why the WebSocket cannot be used for now (the feed polls, and probes it in the background). */
export type FallbackReason =
  /** No `WebSocket` in this browser, or the constructor threw (e.g. a CSP). */
  | 'no-websocket'
  /** The server closed with a policy/bad-data code, or speaks another protocol version. */
  | 'upgrade-refused'
  /** Several attempts in a row failed before the link proved stable. */
  | 'attempts-exhausted'
  /** The socket opened but the subscription was never answered. */
  | 'snapshot-timeout';

/** What a panel knows about its connection. */
export interface LinkFacts {
  /** The browser said offline (and nothing has answered since). */
  browserOffline: boolean;
  /** Updates come from polling (mode="polling", no WebSocket, or a fallback). */
  fellBack: boolean;
  /** Consecutive failed polls since polling (or the reader) came back. */
  pollFailures: number;
  /** The socket answered this panel's subscription. */
  socketUp: boolean;
  /** The socket dropped (or the browser went offline) since the feed started. */
  lost: boolean;
}

/**
 * The connection state a panel shows, derived from what it knows: pure, so it is tested in node,
 * and it cannot drift from the facts as a separately kept state could.
 */
export function connectionState(facts: LinkFacts): ConnectionState {
  const { browserOffline, fellBack, pollFailures, socketUp, lost } = facts;
  if (browserOffline || (fellBack && pollFailures >= POLL_FAILURES_BEFORE_OFFLINE)) return 'offline';
  if (fellBack) return 'polling';
  if (socketUp) return 'live';
  return lost ? 'reconnecting' : 'connecting';
}
