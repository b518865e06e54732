import type { Clock } from './clock.js';
import { isPolled, keyName, type FeedKey } from './feed-key.js';
import type { FetchLike } from './http-get.js';
import type { Interest } from './interest.js';
import type { LinkEvent } from './link.js';
import type { LinkStatus } from './link-status.js';
import { backoffDelay } from './backoff.js';
import { pollerOnDemand } from './on-demand.js';
import type { Poller, PollerConfig } from './poller.js';
import { socketLink, type SocketLink, type WebSocketCtor } from './socket-link.js';
import { pollUrl } from './urls.js';

/** One endpoint, and the browser's means to reach it (each injected in tests). */
export interface EndpointConfig {
  /** ws:// or wss:// URL of ROUTES.ws. */
  url: string;
  /** Base URL of the server, for the polls. */
  endpoint: string;
  /** null: no WebSocket in this browser (a subscribe then falls back at once). */
  WebSocket: WebSocketCtor | null;
  fetch: FetchLike;
  clock: Clock;
  random?: () => number;
}

export interface UpstreamsConfig extends EndpointConfig {
  /** The socket's status at each step. */
  status(status: LinkStatus): void;
  /** What the key's members want now (their lowest cursor, whether all are hidden, the pace). */
  interest(key: FeedKey): Interest;
  /** An event for the key's members. */
  deliver(key: FeedKey, event: LinkEvent): void;
}

/** The leader's sources of data, one per key: a subscription on the one socket, or a poller. */
export interface Upstreams {
  /**
   * Opens the key's upstream, or retunes a poll to its members' interest; `refresh` also asks an
   * open one again (a fresh snapshot from the cursors, or a poll now).
   */
  serve(key: FeedKey, refresh: boolean): void;
  end(key: FeedKey): void;
  /** Ends every key and closes the socket. */
  close(): void;
  retryNow(): void;
  probe(): void;
}

export function upstreams(config: UpstreamsConfig): Upstreams {
  /** Opened with the first streamed key. */
  let socket: SocketLink | null = null;
  const subscribed = new Map<string, FeedKey>();
  const polls = new Map<string, { poller: Poller; options: PollerConfig<number | null> }>();

  /** Set before it opens: open() may already report (a throwing constructor). */
  function openSocket(): SocketLink {
    socket = socketLink({
      ...config,
      // The socket is closed before it is dropped, and says nothing after.
      status: config.status,
      cursor: (key) => config.interest(key).cursor,
      token: (key) => config.interest(key).token,
      on: (key, message, requested) => config.deliver(key, { source: 'socket', message, requested }),
    });
    socket.open();
    return socket;
  }

  function poll(key: FeedKey, refresh: boolean): void {
    const name = keyName(key);
    let held = polls.get(name);
    if (!held) {
      const options: PollerConfig<number | null> = {
        ...config,
        backoff: backoffDelay,
        intervalMs: 0,
        request() {
          const { cursor, token } = config.interest(key);
          const afterSeq = key.kind === 'task-poll' ? cursor : null;
          return { url: pollUrl(config.endpoint, key, afterSeq), context: afterSeq, token };
        },
        onResult: (result, requested) => config.deliver(key, { source: 'poll', result, requested }),
      };
      polls.set(name, (held = { poller: pollerOnDemand(options), options }));
    }
    const { hidden, intervalMs } = config.interest(key);
    held.options.intervalMs = intervalMs;
    held.poller.setHidden(hidden);
    if (!held.poller.running) held.poller.start();
    else if (refresh) held.poller.pollNow();
  }

  return {
    serve(key, refresh) {
      if (isPolled(key)) return poll(key, refresh);
      const name = keyName(key);
      if (subscribed.has(name) && !refresh) return;
      subscribed.set(name, key);
      (socket ?? openSocket()).request(key);
    },

    end(key) {
      const name = keyName(key);
      polls.get(name)?.poller.stop();
      polls.delete(name);
      if (subscribed.delete(name)) socket?.drop(key);
    },

    close() {
      for (const { poller } of polls.values()) poller.stop();
      polls.clear();
      subscribed.clear();
      socket?.close();
      socket = null;
    },

    retryNow: () => socket?.retryNow(),
    probe: () => socket?.probe(),
  };
}
