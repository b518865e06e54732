import type { WebSocket } from 'ws';
import {
  CLOSE_CODES,
  ClientMessageSchema,
  LIMITS,
  PROTOCOL_VERSION,
  type ErrorMessage,
  type ParsedClientMessage,
  type ServerMessage,
} from '../../protocol/index.js';
import type { BusEvent } from '../bus/task-bus.js';
import type { TaskStore } from '../store/task-store.js';
import type { Hub, HubMember } from './hub.js';
import { ReadGate } from './read-gate.js';
import { fitSnapshot } from './snapshot-budget.js';
import { SmallMap } from './small-map.js';
import { writeFrame } from './ws-frame.js';

export interface SessionLimits {
  heartbeatMs: number;
  maxBufferedBytes: number;
  maxSubscriptions: number;
}

/** A client that keeps sending garbage is cut off rather than answered forever. */
const INVALID_MESSAGES_MAX = 20;
/**
 * Messages per second a client may send before it is closed (a client that loops). A page of any
 * size resubscribes in a few messages (one subscribe carries up to LIMITS.subscribeBatch tasks),
 * so an honest client stays far below it.
 */
const MESSAGES_PER_SECOND_MAX = 50;

/** Store reads one session may have in flight; the rest of a large subscribe waits its turn. */
const READS_IN_FLIGHT_MAX = 8;

/** Live events held per subscription while its snapshot is read. */
const PENDING_EVENTS_MAX = 1_000;

/**
 * A task subscription. While its snapshot is being read, live events for the task are held in
 * `pending` and sent after the snapshot (minus those the snapshot already covered), so nothing
 * committed during the read is missed or sent twice.
 */
interface TaskSubscription {
  pending: { event: BusEvent; frame: Buffer }[] | null;
  /** The highest seq this client has been sent for the task. */
  sentSeq: number;
}

/**
 * One WebSocket connection: parses and validates what the client sends, keeps its subscriptions
 * in the hub, answers subscribe with snapshot-then-stream, and protects the server from a client
 * that reads too slowly (bounded outbound buffer) or sends too much.
 */
export class Session implements HubMember {
  readonly #tasks = new SmallMap<string, TaskSubscription>();
  readonly #agents = new SmallMap<string, true>();
  readonly #reads = new ReadGate(READS_IN_FLIGHT_MAX);
  #invalid = 0;
  #windowStart = 0;
  #windowCount = 0;
  #closed = false;

  constructor(
    readonly ws: WebSocket,
    private readonly hub: Hub,
    private readonly store: TaskStore,
    private readonly limits: SessionLimits,
  ) {
    this.#send({ type: 'hello', protocol: PROTOCOL_VERSION, heartbeatMs: limits.heartbeatMs });
  }

  /** A frame from the client. Binary frames are not part of the protocol. */
  receive(data: unknown, isBinary: boolean): void {
    if (this.#closed) return;
    if (!this.#withinRate()) {
      this.#close(CLOSE_CODES.policyViolation, `more than ${MESSAGES_PER_SECOND_MAX} messages per second`);
      return;
    }
    if (isBinary) {
      this.#close(CLOSE_CODES.unsupportedData, 'binary frames are not supported; send JSON text');
      return;
    }
    let json: unknown;
    try {
      json = JSON.parse(String(data));
    } catch {
      this.#invalidMessage('message is not valid JSON');
      return;
    }
    const parsed = ClientMessageSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue && issue.path.length > 0 ? ` at "${issue.path.join('.')}"` : '';
      this.#invalidMessage(`invalid message${where}: ${issue?.message ?? 'unknown shape'}`);
      return;
    }
    this.#handle(parsed.data);
  }

  /** Called by the hub for every event of a task or agent this session follows. */
  deliver(event: BusEvent, frame: Buffer): void {
    if (event.type === 'agent-task') {
      this.#sendBroadcast(frame);
      return;
    }
    const sub = this.#tasks.get(event.taskId);
    if (!sub) return;
    if (sub.pending) {
      // Past the bound, later events are dropped here; the client sees the gap by `fromSeq`
      // and fills it from the logs route.
      if (sub.pending.length < PENDING_EVENTS_MAX) sub.pending.push({ event, frame });
      return;
    }
    // Across instances the bus may repeat or reorder; the client merges by seq, but never send
    // what it has surely seen.
    if (event.task.seq <= sub.sentSeq) return;
    sub.sentSeq = event.task.seq;
    this.#sendBroadcast(frame);
  }

  /** The socket is gone: leave the hub. */
  dispose(): void {
    this.#closed = true;
    for (const taskId of this.#tasks.keys()) this.hub.removeTask(taskId, this);
    for (const agentId of this.#agents.keys()) this.hub.removeAgent(agentId, this);
    this.#tasks.clear();
    this.#agents.clear();
  }

  get subscriptionCount(): number {
    return this.#tasks.size + this.#agents.size;
  }

  #handle(message: ParsedClientMessage): void {
    switch (message.type) {
      case 'subscribe':
        for (const { taskId, afterSeq } of message.tasks ?? []) {
          void this.#subscribe(taskId, afterSeq, message.requestId);
        }
        for (const agentId of message.agents ?? []) void this.#watchAgent(agentId, message.requestId);
        return;
      case 'unsubscribe':
        for (const taskId of message.tasks ?? []) this.#drop(taskId);
        for (const agentId of message.agents ?? []) {
          this.#agents.delete(agentId);
          this.hub.removeAgent(agentId, this);
        }
        return;
      case 'ping':
        this.#send({ type: 'pong' });
        return;
    }
  }

  async #subscribe(taskId: string, afterSeq: number | undefined, requestId: number): Promise<void> {
    if (!this.#tasks.has(taskId) && this.#refusedOverLimit(requestId, { taskId })) return;
    // A resubscribe restarts the stream with a new object: an earlier request's read, finding
    // another object in the map, is dropped, so only the latest request is answered.
    const sub: TaskSubscription = { pending: [], sentSeq: 0 };
    this.#tasks.set(taskId, sub);
    this.hub.addTask(taskId, this);
    await this.#reads.enter();
    let page;
    try {
      if (this.#closed || this.#tasks.get(taskId) !== sub) return;
      page =
        afterSeq === undefined
          ? await this.store.readPage(taskId, { limit: LIMITS.tailLines })
          : await this.store.readPage(taskId, { afterSeq, limit: LIMITS.logsPageMax });
    } catch (error) {
      if (this.#tasks.get(taskId) !== sub) return;
      this.#drop(taskId);
      // The client retries this subscription with backoff, and polls meanwhile.
      this.#sendError('store_unavailable', 'could not read the task from the store; retry shortly', {
        requestId,
        taskId,
      });
      console.error('snapshot read failed', error);
      return;
    } finally {
      this.#reads.done();
    }
    if (this.#closed || this.#tasks.get(taskId) !== sub) return;
    if (!page) {
      this.#drop(taskId);
      this.#sendError('not_found', `no task with id "${taskId}"`, { requestId, taskId });
      return;
    }
    // Half the buffer bound: the snapshot must fit with room to spare for live events.
    const fitted = fitSnapshot(page, afterSeq !== undefined, this.limits.maxBufferedBytes / 2);
    this.#send({ type: 'snapshot', requestId, taskId, ...fitted });
    sub.sentSeq = page.task.seq;
    const pending = sub.pending ?? [];
    sub.pending = null;
    for (const { event, frame } of pending) this.deliver(event, frame);
  }

  async #watchAgent(agentId: string, requestId: number): Promise<void> {
    if (!this.#agents.has(agentId) && this.#refusedOverLimit(requestId, { agentId })) return;
    this.#agents.set(agentId, true);
    this.hub.addAgent(agentId, this);
    await this.#reads.enter();
    try {
      if (this.#closed || !this.#agents.has(agentId)) return;
      const task = await this.store.getActiveTask(agentId);
      if (!this.#closed && this.#agents.has(agentId)) {
        this.#send({ type: 'agent-task', requestId, agentId, task });
      }
    } catch (error) {
      this.#sendError('store_unavailable', 'could not read the agent from the store; retry shortly', {
        requestId,
        agentId,
      });
      console.error('active task read failed', error);
    } finally {
      this.#reads.done();
    }
  }

  /**
   * At the per-connection limit, a new subscription is answered with an error for that task or
   * agent alone: the socket and every other subscription on it carry on.
   */
  #refusedOverLimit(requestId: number, about: { taskId?: string; agentId?: string }): boolean {
    if (this.subscriptionCount < this.limits.maxSubscriptions) return false;
    this.#sendError(
      'too_many_subscriptions',
      `this connection already follows ${this.limits.maxSubscriptions} tasks and agents (WS_MAX_SUBSCRIPTIONS); this one is polled instead`,
      { requestId, ...about },
    );
    return true;
  }

  #drop(taskId: string): void {
    this.#tasks.delete(taskId);
    this.hub.removeTask(taskId, this);
  }

  #invalidMessage(message: string): void {
    this.#invalid += 1;
    if (this.#invalid > INVALID_MESSAGES_MAX) {
      this.#close(CLOSE_CODES.policyViolation, 'too many invalid messages');
      return;
    }
    this.#sendError('invalid_message', message);
  }

  #sendError(
    code: ErrorMessage['code'],
    message: string,
    about: { requestId?: number; taskId?: string; agentId?: string } = {},
  ): void {
    this.#send({ type: 'error', code, message, ...about });
  }

  #send(message: ServerMessage): void {
    this.#sendFrame(Buffer.from(JSON.stringify(message)));
  }

  /** This session's own messages (hello, snapshot, errors), through `ws`. */
  #sendFrame(frame: Buffer): void {
    if (!this.#roomFor(frame.length)) return;
    this.ws.send(frame, { binary: false });
  }

  /** A hub broadcast: framed once for all its subscribers (ws-frame.ts), written as is. */
  #sendBroadcast(frame: Buffer): void {
    if (!this.#roomFor(frame.length)) return;
    writeFrame(this.ws, frame);
  }

  /**
   * The gate of both ways out. A client that does not read lets `bufferedAmount` grow; past the
   * bound it is closed with 1013 (it will reconnect and resync from its cursor) instead of
   * holding server memory.
   */
  #roomFor(bytes: number): boolean {
    if (this.#closed || this.ws.readyState !== this.ws.OPEN) return false;
    if (this.ws.bufferedAmount + bytes <= this.limits.maxBufferedBytes) return true;
    // 1013 "try again later", not 1008: the client did nothing wrong, it should reconnect (with
    // jitter) and resync from its cursor, not give up on the WebSocket and poll.
    this.#close(CLOSE_CODES.tryAgainLater, 'consumer too slow: outbound buffer full');
    // A close frame cannot pass a full buffer either; don't wait on a peer that isn't reading.
    setTimeout(() => this.ws.terminate(), 1_000).unref();
    return false;
  }

  #withinRate(): boolean {
    const now = Date.now();
    if (now - this.#windowStart >= 1_000) {
      this.#windowStart = now;
      this.#windowCount = 0;
    }
    this.#windowCount += 1;
    return this.#windowCount <= MESSAGES_PER_SECOND_MAX;
  }

  #close(code: number, reason: string): void {
    if (this.#closed) return;
    this.dispose();
    this.ws.close(code, reason);
  }
}
