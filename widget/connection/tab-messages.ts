import type { FeedKey } from './feed-key.js';
import type { Interest } from './interest.js';
import type { LinkEvent } from './link.js';
import type { LinkStatus } from './link-status.js';

/** The messages between the tabs of one browser, for one endpoint (see tab-link.ts). */
export type TabMessage =
  /** A follower appeared (or resumed): the leader answers with its `status`. */
  | { type: 'hello' }
  /** A follower's Retry button, and its reader coming back (see Link). */
  | { type: 'retry' }
  | { type: 'probe' }
  /** `leader`: a new leader took over (followers send their joins again). `status`: its socket's. */
  | { type: 'leader' | 'status'; status: LinkStatus }
  /** A follower's interests that changed in one tick (a page of 300 panels joins in one message). */
  | { type: 'join'; tab: string; joins: TabJoin[] }
  /** The keys a follower left in one tick. */
  | { type: 'leave'; tab: string; keys: FeedKey[] }
  /** An event on a key, relayed by the leader. */
  | { type: 'event'; key: FeedKey; event: LinkEvent };

/** A follower's interest in a key; `refresh`: it wants a fresh answer (a newcomer, a resync). */
export interface TabJoin extends Interest {
  key: FeedKey;
  refresh: boolean;
}

/**
 * The channel (and lock) name: per endpoint, so different endpoints have different leaders, and
 * versioned, so tabs still running an older build after a deploy never mix their messages.
 */
export function tabChannelName(url: string): string {
  return `agent-task-status/3 ${url}`;
}

/** A follower's joins and leaves, gathered through one tick and posted together at its end. */
export interface TabOutbox {
  join(join: TabJoin): void;
  leave(key: FeedKey): void;
}

export function tabOutbox(tab: string, post: (message: TabMessage) => void): TabOutbox {
  /** This tick's messages in order, so a leave then a join of one key stays in that order. */
  let queued: TabMessage[] | null = null;

  function pending(): TabMessage[] {
    if (!queued) {
      const messages: TabMessage[] = (queued = []);
      queueMicrotask(() => {
        queued = null;
        for (const message of messages) post(message);
      });
    }
    return queued;
  }

  return {
    join(join) {
      const messages = pending();
      const previous = messages.at(-1);
      if (previous?.type === 'join') previous.joins.push(join);
      else messages.push({ type: 'join', tab, joins: [join] });
    },
    leave(key) {
      const messages = pending();
      const previous = messages.at(-1);
      if (previous?.type === 'leave') previous.keys.push(key);
      else messages.push({ type: 'leave', tab, keys: [key] });
    },
  };
}
