import type { BusEvent, BusListener, TaskBus } from './task-bus.js';

/** Delivers events to listeners in this process, synchronously and in publish order. */
export class LocalTaskBus implements TaskBus {
  readonly #listeners = new Set<BusListener>();
  /** One instance, and every write is published here: nothing is ever missed. */
  readonly #always = {};

  hearing(): object {
    return this.#always;
  }

  publish(event: BusEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        // One faulty listener must not stop delivery to the others.
        console.error('bus listener failed', error);
      }
    }
  }

  subscribe(listener: BusListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#listeners.clear();
  }
}
