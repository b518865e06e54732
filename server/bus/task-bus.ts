import type { AgentTaskMessage, UpdateMessage } from '../../protocol/index.js';

/** What the routes announce after a successful write; the realtime hub fans it out. */
export type BusEvent = UpdateMessage | AgentTaskMessage;

export type BusListener = (event: BusEvent) => void;

/** A task or an agent whose events this instance's sockets follow. */
export type BusKey = { kind: 'task'; id: string } | { kind: 'agent'; id: string };

/** The key a bus event is about. */
export function keyOf(event: BusEvent): BusKey {
  return event.type === 'update' ? { kind: 'task', id: event.taskId } : { kind: 'agent', id: event.agentId };
}

/**
 * Publish/subscribe between the routes and the realtime hub. In-process by default
 * (LocalTaskBus); RedisTaskBus carries events between server instances (same interface).
 */
export interface TaskBus {
  /** Delivers to this instance's listeners at once, and to other instances' if shared. */
  publish(event: BusEvent): void;
  /** Returns the function that removes the listener. */
  subscribe(listener: BusListener): () => void;
  /**
   * This instance's sockets follow `key` (from the first one on) or no longer do (after the last):
   * a shared bus fetches only the events of keys followed here. In-process there is nothing to do.
   */
  follow?(key: BusKey): Promise<void> | void;
  unfollow?(key: BusKey): void;
  /**
   * A value that stays the same for as long as every write of the task reaches this instance's
   * listeners without a gap, or undefined when the bus cannot say so (not followed here, a link
   * down). In-process every write is made here, so always the same value.
   */
  hearing(taskId: string): object | undefined;
  close(): Promise<void>;
}
