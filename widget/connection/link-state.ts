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

export type LinkEvent =
  /** `socket: false` for mode="polling" or when there is no WebSocket at all. */
  | { type: 'start'; socket: boolean }
  /** The subscription was answered (a snapshot, or the agent's active task) on a live socket. */
  | { type: 'snapshot-received' }
  | { type: 'socket-lost' }
  | { type: 'fallback'; reason: FallbackReason }
  | { type: 'poll-ok' }
  | { type: 'poll-failed'; consecutiveFailures: number }
  | { type: 'browser-offline' }
  /**
   * Where to resume depends on what still works: `socketUp` (the socket survived and its
   * subscription is answered) or `fellBack` (updates come from polling).
   */
  | { type: 'browser-online'; socketUp: boolean; fellBack: boolean };

/** The whole connection state machine: pure, so every transition is tested in node. */
export function transition(state: ConnectionState, event: LinkEvent): ConnectionState {
  switch (event.type) {
    case 'start':
      return event.socket ? 'connecting' : 'polling';
    case 'snapshot-received':
      return 'live';
    case 'socket-lost':
      // While polling or offline the socket is only a background probe: losing it changes nothing.
      return state === 'connecting' || state === 'live' ? 'reconnecting' : state;
    case 'fallback':
      return state === 'offline' ? state : 'polling';
    case 'poll-ok':
      return state === 'offline' ? 'polling' : state;
    case 'poll-failed':
      return state === 'polling' && event.consecutiveFailures >= POLL_FAILURES_BEFORE_OFFLINE
        ? 'offline'
        : state;
    case 'browser-offline':
      return 'offline';
    case 'browser-online':
      if (state !== 'offline') return state;
      if (event.socketUp) return 'live';
      return event.fellBack ? 'polling' : 'reconnecting';
  }
}

export interface StateChange<S> {
  from: S;
  to: S;
}

/** One place where a state changes; listeners hear `{from, to}` only when it really changed. */
export class StateHolder<S> {
  #value: S;
  readonly #onChange: (change: StateChange<S>) => void;

  constructor(initial: S, onChange: (change: StateChange<S>) => void) {
    this.#value = initial;
    this.#onChange = onChange;
  }

  get value(): S {
    return this.#value;
  }

  set(next: S): boolean {
    if (Object.is(next, this.#value)) return false;
    const from = this.#value;
    this.#value = next;
    this.#onChange({ from, to: next });
    return true;
  }
}
