/**
 * Lets at most `limit` store reads of one session run at once; the others wait their turn in
 * arrival order. A dashboard subscribing hundreds of tasks in one go then reads the store a few
 * at a time instead of all at once, so one page cannot monopolise the store or the event loop,
 * and a client that loops on subscribe waits behind its own reads.
 */
export class ReadGate {
  #running = 0;
  #waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  /** Resolves when a read may start; the caller must call `done()` once it has finished. */
  enter(): Promise<void> {
    if (this.#running < this.limit) {
      this.#running += 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  done(): void {
    const next = this.#waiting.shift();
    // The slot passes straight to the next in line: the running count stays the same.
    if (next) next();
    else this.#running -= 1;
  }
}
