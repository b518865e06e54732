import type { BusEvent, BusKey } from '../bus/task-bus.js';
import { TaskEventOrder } from './task-event-order.js';
import { textFrame } from './ws-frame.js';

/** What the hub needs of a connection: deliver an event it has already framed (ws-frame.ts). */
export interface HubMember {
  deliver(event: BusEvent, frame: Buffer): void;
}

/**
 * Who listens to what: task id → members, agent id → members. A broadcast is serialized and
 * framed once, and every member gets the same bytes, so the cost per subscriber is a socket
 * write, not a JSON.stringify or a frame header.
 */
export class Hub {
  readonly #byTask = new Map<string, Set<HubMember>>();
  readonly #byAgent = new Map<string, Set<HubMember>>();
  #subscriptions = 0;
  #delivered = 0;

  /**
   * `interest`: told when a task or agent gains its first member and loses its last, so that a
   * shared bus fetches only what this instance's sockets follow.
   */
  constructor(
    private readonly interest?: { follow(key: BusKey): Promise<void> | void; unfollow(key: BusKey): void },
  ) {}

  /** Subscriptions to a shared bus not yet acknowledged, by `kind:id`. */
  readonly #following = new Map<string, Promise<void>>();

  /**
   * Resolves once the bus delivers `key`'s events here (at once in-process; for a shared bus,
   * once its subscription is acknowledged). Never rejects.
   */
  following(key: BusKey): Promise<void> | undefined {
    return this.#following.get(`${key.kind}:${key.id}`);
  }

  /**
   * Returns true when the task's events reach this instance only from now on (a shared bus, and
   * the first member here): what this instance knows of the task may be older than events it
   * never heard, so a snapshot must read the store itself.
   */
  addTask(taskId: string, member: HubMember): boolean {
    if (!add(this.#byTask, taskId, member)) return false;
    const first = this.#byTask.get(taskId)!.size === 1;
    this.#added({ kind: 'task', id: taskId }, this.#byTask);
    return first && this.interest !== undefined;
  }

  removeTask(taskId: string, member: HubMember): void {
    if (remove(this.#byTask, taskId, member)) this.#removed({ kind: 'task', id: taskId }, this.#byTask);
  }

  addAgent(agentId: string, member: HubMember): void {
    if (add(this.#byAgent, agentId, member)) this.#added({ kind: 'agent', id: agentId }, this.#byAgent);
  }

  removeAgent(agentId: string, member: HubMember): void {
    if (remove(this.#byAgent, agentId, member)) this.#removed({ kind: 'agent', id: agentId }, this.#byAgent);
  }

  #added(key: BusKey, index: Map<string, Set<HubMember>>): void {
    this.#subscriptions += 1;
    if (index.get(key.id)!.size !== 1) return;
    const following = this.interest?.follow(key);
    if (!following) return;
    const id = `${key.kind}:${key.id}`;
    const settled = following.then(
      () => {},
      () => {},
    );
    this.#following.set(id, settled);
    void settled.then(() => {
      if (this.#following.get(id) === settled) this.#following.delete(id);
    });
  }

  #removed(key: BusKey, index: Map<string, Set<HubMember>>): void {
    this.#subscriptions -= 1;
    if (index.has(key.id)) return;
    if (key.kind === 'task') this.#order.forget(key.id);
    this.interest?.unfollow(key);
  }

  /** Updates of a task reach its members in seq order (task-event-order.ts). */
  readonly #order = new TaskEventOrder((event) => this.#fanOut(event));

  publish(event: BusEvent): void {
    if (event.type === 'update') {
      if (this.#byTask.has(event.taskId)) this.#order.offer(event);
      return;
    }
    this.#fanOut(event);
  }

  #fanOut(event: BusEvent): void {
    const members =
      event.type === 'update' ? this.#byTask.get(event.taskId) : this.#byAgent.get(event.agentId);
    if (!members || members.size === 0) return;
    const frame = textFrame(JSON.stringify(event));
    for (const member of members) member.deliver(event, frame);
    this.#delivered += members.size;
  }

  get subscriptions(): number {
    return this.#subscriptions;
  }

  get delivered(): number {
    return this.#delivered;
  }
}

function add(index: Map<string, Set<HubMember>>, key: string, member: HubMember): boolean {
  let members = index.get(key);
  if (!members) index.set(key, (members = new Set()));
  if (members.has(member)) return false;
  members.add(member);
  return true;
}

function remove(index: Map<string, Set<HubMember>>, key: string, member: HubMember): boolean {
  const members = index.get(key);
  if (!members?.delete(member)) return false;
  if (members.size === 0) index.delete(key);
  return true;
}
