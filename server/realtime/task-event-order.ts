import type { UpdateMessage } from '../../protocol/index.js';

/**
 * A task's events released in seq order (issue 14). With several instances, the writes of one
 * task made through two of them reach an instance out of order: each delivers its own at once and
 * the other's through Redis. A session never sends what is older than what it sent, so an event
 * arriving after a later one would reach none of the task's clients, and each of them would fill
 * the gap over HTTP, all at once. An event past a gap is held here for up to `holdMs`, waiting for
 * the missing one, then released anyway: the gap is then real (a message lost), and clients fill
 * it as after any gap. With one instance events come in order and nothing is ever held.
 */
export class TaskEventOrder {
  /** Per task followed here: the highest seq released. */
  readonly #last = new Map<string, number>();
  readonly #held = new Map<string, { events: UpdateMessage[]; timer: ReturnType<typeof setTimeout> }>();

  constructor(
    private readonly release: (event: UpdateMessage) => void,
    private readonly holdMs = 250,
    /** Events held per task at most; past it, all are released (a gap that large is not a reorder). */
    private readonly maxHeld = 64,
  ) {}

  offer(event: UpdateMessage): void {
    const last = this.#last.get(event.taskId);
    if (last === undefined || event.fromSeq <= last + 1) {
      if (this.#emit(event)) this.#releaseContiguous(event.taskId);
      return;
    }
    let held = this.#held.get(event.taskId);
    if (!held) {
      const timer = setTimeout(() => this.#releaseAll(event.taskId), this.holdMs);
      timer.unref?.();
      this.#held.set(event.taskId, (held = { events: [], timer }));
    }
    held.events.push(event);
    held.events.sort((a, b) => a.fromSeq - b.fromSeq);
    if (held.events.length > this.maxHeld) this.#releaseAll(event.taskId);
  }

  /** The task has no follower here any more. */
  forget(taskId: string): void {
    clearTimeout(this.#held.get(taskId)?.timer);
    this.#held.delete(taskId);
    this.#last.delete(taskId);
  }

  /** Events held now, over every task (for tests and metrics). */
  get heldCount(): number {
    let count = 0;
    for (const held of this.#held.values()) count += held.events.length;
    return count;
  }

  /** Releases one event; false when that made the task's last follower go (it is forgotten). */
  #emit(event: UpdateMessage): boolean {
    this.#last.set(event.taskId, Math.max(this.#last.get(event.taskId) ?? 0, event.task.seq));
    this.release(event);
    return this.#last.has(event.taskId);
  }

  #releaseContiguous(taskId: string): void {
    const held = this.#held.get(taskId);
    if (!held) return;
    while (held.events.length > 0 && held.events[0]!.fromSeq <= (this.#last.get(taskId) ?? 0) + 1) {
      if (!this.#emit(held.events.shift()!)) return;
    }
    if (held.events.length === 0) {
      clearTimeout(held.timer);
      this.#held.delete(taskId);
    }
  }

  #releaseAll(taskId: string): void {
    const held = this.#held.get(taskId);
    if (!held) return;
    clearTimeout(held.timer);
    this.#held.delete(taskId);
    for (const event of held.events) if (!this.#emit(event)) return;
  }
}
