import type { FeedKey } from './feed-key.js';
import type { Followed, Interest } from './interest.js';
import type { LinkEvent } from './link.js';
import type { LinkStatus } from './link-status.js';
import { advance } from './remote-cursor.js';
import { tabElection, type LocksLike } from './tab-election.js';
import { tabChannelName, tabOutbox, type TabMessage } from './tab-messages.js';
import type { Upstreams } from './upstreams.js';

/** What the tab's link (tab-link.ts) shares with this module: its keys and its upstreams. */
export interface SharingHost {
  readonly url: string;
  readonly tabId: string;
  readonly locks: LocksLike;
  readonly BroadcastChannel: new (name: string) => BroadcastChannel;
  readonly followed: Map<string, Followed>;
  readonly status: LinkStatus;
  setStatus(status: LinkStatus): void;
  interest(key: FeedKey): Interest;
  /** The key as followed, if it is (this module imports nothing the main file holds: see tab-link.ts). */
  find(key: FeedKey): Followed | undefined;
  follow(key: FeedKey): Followed;
  /** Become the leader: open the upstreams and serve every key followed. */
  lead(): void;
  /** The leader's upstreams; null on a follower. */
  readonly sources: Upstreams | null;
  /** Stops following a key no member wants any more. */
  forget(key: FeedKey): void;
  /** An event for this tab's own panels. */
  deliver(key: FeedKey, event: LinkEvent): void;
}

/** The tab's side of sharing one socket between the tabs of a browser. */
export interface TabSharing {
  /** Joins the election (again after stop()). */
  start(): void;
  stop(): void;
  /** A follower's interest in `key` changed (`refresh`: it wants a fresh answer), or it left the key. */
  join(key: FeedKey, refresh: boolean): void;
  leave(key: FeedKey): void;
  /** The leader's upstream event for `key`: to the other tabs that follow it. */
  relay(key: FeedKey, event: LinkEvent): void;
  /** The leader's socket status, for the other tabs. */
  status(status: LinkStatus): void;
  /** A follower's Retry button, or its reader coming back: the leader acts on its socket. */
  ask(type: 'retry' | 'probe'): void;
}

/**
 * Loaded on demand by tab-link.ts, when the browser has Web Locks and BroadcastChannel. The tab
 * that wins the election (tab-election.ts) leads: it serves the other tabs' interests as its own,
 * relaying every event over the channel, and drops a tab's interests when that tab is gone.
 * Followers send their interests with their cursors (tab-messages.ts), hear the leader's socket
 * status, and send them again when a new leader takes over.
 */
export function tabSharing(host: SharingHost): TabSharing {
  const { followed } = host;
  const election = tabElection({
    name: tabChannelName(host.url),
    tabId: host.tabId,
    locks: host.locks,
    BroadcastChannel: host.BroadcastChannel,
    onReady() {
      election.post({ type: 'hello' });
      for (const { key } of followed.values()) join(key, true);
    },
    onLead() {
      leading = true;
      host.lead();
      election.post({ type: 'leader', status: host.status });
    },
    onMessage: (message) => (leading ? asLeader(message) : asFollower(message)),
  });
  const outbox = tabOutbox(host.tabId, election.post);
  let leading = false;

  function join(key: FeedKey, refresh: boolean): void {
    outbox.join({ key, refresh, ...host.interest(key) });
  }

  function asLeader(message: TabMessage): void {
    switch (message.type) {
      case 'hello':
        return election.post({ type: 'status', status: host.status });
      case 'retry':
        return host.sources?.retryNow();
      case 'probe':
        return host.sources?.probe();
      case 'join': {
        const { tab } = message;
        for (const { key, refresh, cursor, hidden, intervalMs, token } of message.joins) {
          host.follow(key).members.set(tab, { kind: 'tab', cursor, hidden, intervalMs, token });
          host.sources?.serve(key, refresh);
        }
        return election.watch(tab, () => {
          for (const { key, members } of [...followed.values()]) if (members.delete(tab)) left(key);
        });
      }
      case 'leave':
        for (const key of message.keys) if (host.find(key)?.members.delete(message.tab)) left(key);
        return;
    }
  }

  /** Another tab left `key`: retune its upstream for those who remain, or end it. */
  function left(key: FeedKey): void {
    if (host.find(key)?.members.size) host.sources?.serve(key, false);
    else host.forget(key);
  }

  function asFollower(message: TabMessage): void {
    switch (message.type) {
      case 'leader':
        for (const { key } of followed.values()) join(key, true);
        return host.setStatus(message.status);
      case 'status':
        return host.setStatus(message.status);
      case 'event':
        return host.deliver(message.key, message.event);
    }
  }

  return {
    start: election.start,

    stop() {
      election.stop();
      if (!leading) return;
      leading = false;
      // Other tabs' interests go with the lead (the host closes its upstreams): they join the next leader.
      for (const [name, { members }] of followed) {
        for (const [who, member] of members) if (member.kind === 'tab') members.delete(who);
        if (members.size === 0) followed.delete(name);
      }
    },

    join,
    leave: outbox.leave,

    relay(key, event) {
      let remote = false;
      for (const member of host.find(key)?.members.values() ?? []) {
        if (member.kind !== 'tab') continue;
        remote = true;
        member.cursor = advance(member.cursor, event);
      }
      if (remote) election.post({ type: 'event', key, event });
    },

    status(status) {
      election.post({ type: 'status', status });
    },

    ask(type) {
      election.post({ type });
    },
  };
}
