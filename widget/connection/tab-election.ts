import type { TabMessage } from './tab-messages.js';

/** The Web Locks we use (navigator.locks). */
export interface LocksLike {
  request(name: string, options: { signal: AbortSignal }, callback: () => unknown): Promise<unknown>;
}

export interface TabElectionConfig {
  /** The channel's and the leader lock's name; each tab's own lock is this name and its id. */
  name: string;
  tabId: string;
  locks: LocksLike;
  BroadcastChannel: new (name: string) => BroadcastChannel;
  /** This tab's own lock is held: it may speak on the channel (and is known to the leader). */
  onReady(): void;
  /** This tab holds the leader lock, until stop(). */
  onLead(): void;
  /** Another tab's message, heard once this tab is ready. */
  onMessage(message: TabMessage): void;
}

export interface TabElection {
  /** Asks for the locks and opens the channel; again after stop(). */
  start(): void;
  /** Releases both locks (the next tab in line leads) and closes the channel. */
  stop(): void;
  /** Says `message` to the other tabs, once this tab may speak; dropped before. */
  post(message: TabMessage): void;
  /** Calls `gone` when tab `tabId` is gone (closed, discarded, frozen): its own lock comes free. */
  watch(tabId: string, gone: () => void): void;
}

/**
 * Which tab of the browser leads for one endpoint: the one holding a Web Lock, for its life. Each
 * tab also holds a lock of its own, so the leader learns when a follower is gone by waiting on it,
 * and a tab only speaks once it holds its own (the leader could not watch it before).
 */
export function tabElection(config: TabElectionConfig): TabElection {
  const { name, locks } = config;
  let abort: AbortController | null = null;
  let channel: BroadcastChannel | null = null;
  let ready = false;
  /** Tabs whose lock this tab waits on. */
  const watched = new Set<string>();
  const ignore = (): void => {};

  return {
    start() {
      if (abort) return;
      const signal = (abort = new AbortController()).signal;
      channel = new config.BroadcastChannel(name);
      // Heard only once this tab may speak: before, its answers would be lost.
      channel.onmessage = (event) => ready && config.onMessage(event.data as TabMessage);
      // Both locks are held until stop(); exclusive is the default mode.
      const held = new Promise((resolve) => signal.addEventListener('abort', resolve));
      // A grant can be on its way when stop() aborts: such a callback lets go at once.
      locks
        .request(`${name} #${config.tabId}`, { signal }, () => {
          if (signal.aborted) return;
          ready = true;
          config.onReady();
          locks.request(name, { signal }, () => signal.aborted || (config.onLead(), held)).catch(ignore);
          return held;
        })
        .catch(ignore);
    },

    stop() {
      if (!abort) return;
      // Pending lock requests fail; held locks are released.
      abort.abort();
      abort = null;
      channel?.close();
      channel = null;
      ready = false;
      watched.clear();
    },

    post(message) {
      if (ready) channel?.postMessage(message);
    },

    watch(tabId, gone) {
      if (watched.has(tabId) || !abort) return;
      const { signal } = abort;
      watched.add(tabId);
      locks
        .request(`${name} #${tabId}`, { signal }, () => {
          // A grant already on its way when stop() aborted: this tab no longer leads.
          if (signal.aborted) return;
          watched.delete(tabId);
          gone();
        })
        .catch(ignore);
    },
  };
}
