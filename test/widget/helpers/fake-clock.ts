import type { Clock } from '../../../widget/connection/clock.js';

interface Timer {
  at: number;
  order: number;
  callback: () => void;
}

/**
 * A clock whose time moves only when the test says so. Timers run in time order and `now()`
 * reads the due time while each runs, so code under test sees a consistent world. `pending`
 * counts live timers: a stopped component must leave zero.
 */
export class FakeClock implements Clock {
  #now: number;
  #nextId = 1;
  readonly #timers = new Map<number, Timer>();

  constructor(start = 1_700_000_000_000) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.#nextId++;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), order: id, callback });
    return id;
  }

  clearTimeout(id: unknown): void {
    this.#timers.delete(id as number);
  }

  get pending(): number {
    return this.#timers.size;
  }

  /** Milliseconds until the earliest timer, or null when none is set. */
  nextDelay(): number | null {
    const next = this.#earliest();
    return next ? next[1].at - this.#now : null;
  }

  /** Moves time forward by `ms`, running every timer that falls due on the way. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (let next = this.#earliest(); next && next[1].at <= target; next = this.#earliest()) {
      this.#timers.delete(next[0]);
      this.#now = next[1].at;
      next[1].callback();
    }
    this.#now = target;
  }

  /** Jumps to the earliest timer and runs it (and any due at the same instant). */
  runNext(): number {
    const delay = this.nextDelay();
    if (delay === null) throw new Error('no timer to run');
    this.advance(delay);
    return delay;
  }

  #earliest(): [number, Timer] | undefined {
    let best: [number, Timer] | undefined;
    for (const entry of this.#timers) {
      if (!best || entry[1].at < best[1].at || (entry[1].at === best[1].at && entry[1].order < best[1].order))
        best = entry;
    }
    return best;
  }
}

/** Lets promise chains (fetch → json → handler) run; microtasks only, no real time passes. */
export async function settle(turns = 30): Promise<void> {
  for (let i = 0; i < turns; i++) await Promise.resolve();
}
