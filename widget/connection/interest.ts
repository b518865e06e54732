import type { FeedKey } from './feed-key.js';
import type { Listener } from './link.js';

/**
 * One tab's interest in a key: a panel of this tab, or (on the leader) another tab's, with that
 * tab's cursor as last reported and moved along with what was relayed to it since.
 */
export type Member =
  | { kind: 'panel'; listener: Listener; intervalMs: number }
  | { kind: 'tab'; cursor: number | null; hidden: boolean; intervalMs: number; token: string | null };

/** A key a tab follows: its members (its own panels, and on the leader the other tabs). */
export interface Followed {
  key: FeedKey;
  /** By panel listener, or by tab id for another tab's interest. */
  members: Map<unknown, Member>;
}

/** What the upstream of a key must serve for all its members. */
export interface Interest {
  /** The lowest cursor; null when any member has none (it needs the tail). */
  cursor: number | null;
  /** Every member is hidden: its poll may slow down. */
  hidden: boolean;
  /** The shortest poll interval asked. */
  intervalMs: number;
  /**
   * A viewer token of a member (the latest one's that has one), sent with the key's subscribe or
   * poll. The panels of one browser origin share one socket and its grants: they are one viewer
   * (SECURITY.md), so any member's token serves them all.
   */
  token: string | null;
}

/** `tabHidden`: whether this tab is hidden (its panels are when it is). */
export function combine(members: Iterable<Member>, tabHidden: boolean): Interest {
  let cursor: number | null = Infinity;
  let hidden = true;
  let intervalMs = Infinity;
  let token: string | null = null;
  for (const member of members) {
    const own = member.kind === 'panel' ? (member.listener.cursor?.() ?? null) : member.cursor;
    // The latest member's, when it has one: the newest panel (or tab) likely holds the freshest token.
    token = (member.kind === 'panel' ? member.listener.token?.() : member.token) ?? token;
    cursor = cursor === null || own === null ? null : Math.min(cursor, own);
    hidden &&= member.kind === 'panel' ? tabHidden : member.hidden;
    intervalMs = Math.min(intervalMs, member.intervalMs);
  }
  return { cursor: cursor === Infinity ? null : cursor, hidden, intervalMs, token };
}
