/**
 * Lets at most `limit` store reads run at once; the others wait their turn in arrival order. A
 * session has one: a dashboard subscribing hundreds of tasks in one go then reads the store a few
 * at a time instead of all at once, so one page cannot monopolise the store or the event loop,
 * and a client that loops on subscribe waits behind its own reads. The HTTP log pages share one
 * with a bounded queue (`maxWaiting`), which is what bounds the memory reads can take at once.
 */
export class ReadGate {
  #running = 0;
  #waiting: (() => void)[] = [];

  constructor(
    private readonly limit: number,
    private readonly maxWaiting = Infinity,
  ) {}

  /** Resolves when a read may start; the caller must call `done()` once it has finished. */
  enter(): Promise<void> {
    return this.tryEnter() ?? new Promise((resolve) => this.#waiting.push(resolve));
  }

  /** As `enter`, or null when `maxWaiting` reads already wait (the caller refuses this one). */
  tryEnter(): Promise<void> | null {
    if (this.#running < this.limit) {
      this.#running += 1;
      return Promise.resolve();
    }
    if (this.#waiting.length >= this.maxWaiting) return null;
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  done(): void {
    const next = this.#waiting.shift();
    // The slot passes straight to the next in line: the running count stays the same.
    if (next) next();
    else this.#running -= 1;
  }
}
