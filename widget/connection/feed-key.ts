/**
 * What a panel follows through the link: a task's live stream, an agent's active task (live),
 * or either of them polled over HTTP. Keys cross the channel between tabs, so they are plain data.
 */
export type FeedKind = 'task' | 'agent' | 'task-poll' | 'agent-poll';

export interface FeedKey {
  readonly kind: FeedKind;
  /** A task id for `task` and `task-poll`, an agent id for the others. */
  readonly id: string;
}

export const feedKey = (kind: FeedKind, id: string): FeedKey => ({ kind, id });

/** The key as a Map key. A kind never holds a colon, so no two keys share a name. */
export const keyName = (key: FeedKey): string => `${key.kind}:${key.id}`;

/** Polled over HTTP, not streamed over the socket. */
export const isPolled = (key: FeedKey): boolean => key.kind === 'task-poll' || key.kind === 'agent-poll';
