import type { AgentTaskMessage, UpdateMessage } from '../../protocol/index.js';

/** What the routes announce after a successful write; the realtime hub fans it out. */
export type BusEvent = UpdateMessage | AgentTaskMessage;

export type BusListener = (event: BusEvent) => void;

/**
 * Publish/subscribe between the routes and the realtime hub. In-process by default; a Redis
 * implementation carries events between server instances (same interface).
 */
export interface TaskBus {
  publish(event: BusEvent): void;
  /** Returns the function that removes the listener. */
  subscribe(listener: BusListener): () => void;
  close(): Promise<void>;
}
