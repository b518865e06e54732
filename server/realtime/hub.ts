import type { BusEvent } from '../bus/task-bus.js';
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

  addTask(taskId: string, member: HubMember): void {
    if (add(this.#byTask, taskId, member)) this.#subscriptions += 1;
  }

  removeTask(taskId: string, member: HubMember): void {
    if (remove(this.#byTask, taskId, member)) this.#subscriptions -= 1;
  }

  addAgent(agentId: string, member: HubMember): void {
    if (add(this.#byAgent, agentId, member)) this.#subscriptions += 1;
  }

  removeAgent(agentId: string, member: HubMember): void {
    if (remove(this.#byAgent, agentId, member)) this.#subscriptions -= 1;
  }

  publish(event: BusEvent): void {
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
