import type { BusEvent, TaskBus } from '../bus/task-bus.js';
import type { Config } from '../config.js';
import type { AbuseLimits } from '../http/abuse-limits.js';
import type { ErrorLog } from '../http/error-handler.js';
import type { ReaderAuth } from '../http/reader-auth.js';
import type { ViewerKeyRing } from '../viewer-tokens/jwt.js';
import type { TaskStore } from '../store/task-store.js';

/** What the route modules need; built once by createApp. */
export interface RouteDeps {
  store: TaskStore;
  bus: TaskBus;
  config: Config;
  log: ErrorLog;
  /** Milliseconds clock (tests pin it). */
  now: () => number;
  /** The per-address limits, shared by every route. */
  limits: AbuseLimits;
  /** VIEWER_TOKEN_KEYS, ready to sign and verify; null: reads are public. */
  viewerKeys: ViewerKeyRing | null;
  /** Who may read: the read routes ask it for the reader's grant. */
  readers: ReaderAuth;
}

/**
 * Announces a stored write. The write already happened, so a failing bus must not turn it into an
 * error answer (the agent would retry a write that succeeded); clients catch up by seq anyway.
 */
export function publish({ bus, log }: RouteDeps, event: BusEvent): void {
  try {
    bus.publish(event);
  } catch (error) {
    log.error(`bus publish failed for a ${event.type} event`, error);
  }
}
