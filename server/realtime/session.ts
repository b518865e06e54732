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
import { GrantSet, type CoverageRefusal } from '../viewer-tokens/grant-set.js';
import type { ViewerKeyRing } from '../viewer-tokens/jwt.js';
import { checkReaderToken } from '../viewer-tokens/reader-token.js';
import { coversAgent, coversTask, type ViewerGrant } from '../viewer-tokens/scope.js';
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

/** Who may read over this socket; one object shared by every session. */
export interface SessionAccess {
  /** VIEWER_TOKEN_KEYS; null: reads are public and `authorize` is a no-op. */
  keys: ViewerKeyRing | null;
  adminToken: string | null;
  /** Milliseconds clock for token expiry. */
  now: () => number;
  /**
   * The budget of refused tokens of the socket's client address (BAD_TOKENS_PER_MINUTE), shared
   * with the HTTP routes: whether it is spent, and spending one. Absent: no budget.
   */
  tokenBudget?: { spent(): boolean; refused(): void };
}

/** A subscription not under viewer tokens (or the admin token) is covered for ever. */
const FOREVER = Number.POSITIVE_INFINITY;

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
  /** Until when (epoch ms) the socket's viewer tokens cover it: the latest expiry among them. */
  coveredUntil: number;
  /** The task's agent once its snapshot was read (an agent-scoped token covers it through this). */
  agentId: string | null;
}

/**
 * One WebSocket connection: parses and validates what the client sends, keeps its subscriptions
 * in the hub, answers subscribe with snapshot-then-stream, and protects the server from a client
 * that reads too slowly (bounded outbound buffer) or sends too much.
 */
export class Session implements HubMember {
  readonly #tasks = new SmallMap<string, TaskSubscription>();
  /** Agent id → until when it is covered (see TaskSubscription.coveredUntil). */
  readonly #agents = new SmallMap<string, number>();
  /** The viewer tokens authorized on this socket; null until the first. */
  #grants: GrantSet | null = null;
  /** No subscription's coverage ends before this: the heartbeat's check skips the socket till then. */
  #nextExpiry = FOREVER;
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
    private readonly access: SessionAccess,
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
      if (this.#lapsed(this.#agents.get(event.agentId) ?? FOREVER)) {
        this.#expireAgent(event.agentId);
        return;
      }
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
    if (this.#lapsed(sub.coveredUntil)) {
      this.#expireTask(event.taskId);
      return;
    }
    // Across instances the bus may repeat or reorder; the client merges by seq, but never send
    // what it has surely seen.
    if (event.task.seq <= sub.sentSeq) return;
    if (event.fromSeq <= sub.sentSeq) {
      // Overlaps what this client was sent (a catch-up after a Redis gap): only the rest, framed
      // for this socket alone. Rare, so the shared frame stays the rule.
      const rest = {
        ...event,
        fromSeq: sub.sentSeq + 1,
        logs: event.logs.filter((line) => line.seq > sub.sentSeq),
      };
      sub.sentSeq = event.task.seq;
      this.#send(rest);
      return;
    }
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

  /**
   * Ends every subscription whose viewer tokens have expired, with a `token_expired` news error
   * each (the heartbeat calls it on every tick; a delivered event checks its own subscription).
   */
  expireLapsed(): void {
    if (this.#closed || this.#nextExpiry === FOREVER || this.access.now() < this.#nextExpiry) return;
    for (const taskId of this.#tasks.keys()) {
      const sub = this.#tasks.get(taskId)!;
      if (!sub.pending && this.#lapsed(sub.coveredUntil)) this.#expireTask(taskId);
    }
    for (const agentId of this.#agents.keys()) {
      if (this.#lapsed(this.#agents.get(agentId)!)) this.#expireAgent(agentId);
    }
    let next = FOREVER;
    for (const taskId of this.#tasks.keys()) next = Math.min(next, this.#tasks.get(taskId)!.coveredUntil);
    for (const agentId of this.#agents.keys()) next = Math.min(next, this.#agents.get(agentId)!);
    this.#nextExpiry = next;
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
      case 'authorize':
        this.#authorize(message.requestId, message.tokens);
        return;
    }
  }

  /**
   * Checks viewer tokens (or the admin token) at once, synchronously, so they apply to every
   * subscribe the client sent after them; keeps each accepted one, and extends each live
   * subscription it covers. A guesser gets no more tries here than on the HTTP routes: refused
   * tokens spend from the address's budget, and a socket out of budget is closed.
   */
  #authorize(requestId: number, tokens: readonly string[]): void {
    const { keys, adminToken, now, tokenBudget } = this.access;
    if (keys === null) {
      // Reads are public here: nothing to check, and the client need not know that in advance.
      this.#send({ type: 'authorized', requestId, expiresAt: null });
      return;
    }
    let latest = 0;
    let expired = 0;
    let refusal: string | null = null;
    for (const token of tokens) {
      if (tokenBudget?.spent()) {
        this.#close(
          CLOSE_CODES.policyViolation,
          'too many refused tokens from this address (BAD_TOKENS_PER_MINUTE)',
        );
        return;
      }
      const checked = checkReaderToken(token, keys, adminToken, now());
      if (!checked.ok) {
        if (checked.refusal === 'expired') expired += 1;
        else {
          refusal = checked.refusal;
          tokenBudget?.refused();
        }
        continue;
      }
      this.#grant(checked.grant);
      latest = Math.max(latest, checked.grant.expiresAt);
    }
    if (latest > 0) {
      this.#send({ type: 'authorized', requestId, expiresAt: Number.isFinite(latest) ? latest : null });
      return;
    }
    const allExpired = refusal === null && expired > 0;
    this.#sendError(
      allExpired ? 'token_expired' : 'unauthorized',
      allExpired
        ? 'these viewer tokens have expired; fetch fresh ones and authorize them'
        : `no token here is valid for this server (${refusal!.replaceAll('_', ' ')}); authorize viewer tokens your backend minted`,
      { requestId },
    );
  }

  /** Keeps an accepted token, and extends each live subscription it covers. */
  #grant(grant: ViewerGrant): void {
    (this.#grants ??= new GrantSet()).add(grant);
    for (const taskId of this.#tasks.keys()) {
      const sub = this.#tasks.get(taskId)!;
      if (coversTask(grant, taskId, sub.agentId ?? undefined)) {
        sub.coveredUntil = Math.max(sub.coveredUntil, grant.expiresAt);
      }
    }
    for (const agentId of this.#agents.keys()) {
      if (coversAgent(grant, agentId)) {
        this.#agents.set(agentId, Math.max(this.#agents.get(agentId)!, grant.expiresAt));
      }
    }
  }

  /**
   * Whether the socket's tokens may cover the task: a token names it, or names its agent (read
   * from the task's head, a cheap read, only when some token names agents and none the task).
   * The full check runs again once the snapshot is read, with the tokens authorized meanwhile.
   */
  async #mayCover(taskId: string): Promise<boolean> {
    const grants = this.#grants;
    if (!grants) return false;
    if (typeof grants.coverTask(taskId, undefined, this.access.now()) === 'number') return true;
    if (!grants.namesAgents) return false;
    let head;
    try {
      head = await this.store.getTask(taskId);
    } catch {
      // The store is down: let the snapshot read say so (store_unavailable), as without tokens.
      return true;
    }
    return typeof grants.coverTask(taskId, head?.task.agentId, this.access.now()) === 'number';
  }

  /**
   * Until when the socket's tokens cover a task or agent (FOREVER without viewer tokens), or why
   * they do not.
   */
  #coverage(check: (grants: GrantSet, nowMs: number) => number | CoverageRefusal): number | CoverageRefusal {
    if (this.access.keys === null) return FOREVER;
    return this.#grants ? check(this.#grants, this.access.now()) : 'unauthorized';
  }

  #refuseUncovered(
    refusal: CoverageRefusal,
    requestId: number,
    about: { taskId: string } | { agentId: string },
  ): void {
    const what = 'taskId' in about ? `task "${about.taskId}"` : `agent "${about.agentId}"`;
    const message = {
      unauthorized: `reading ${what} needs a viewer token: send { type: "authorize", token } first`,
      token_expired: `the viewer tokens that covered ${what} have expired; authorize a fresh one and subscribe again`,
      forbidden: `no viewer token on this connection covers ${what}`,
    }[refusal];
    this.#sendError(refusal, message, { requestId, ...about });
  }

  #lapsed(coveredUntil: number): boolean {
    return coveredUntil !== FOREVER && this.access.now() >= coveredUntil;
  }

  /** A live task subscription whose tokens expired: dropped, and the client told (news, no requestId). */
  #expireTask(taskId: string): void {
    this.#drop(taskId);
    this.#sendError(
      'token_expired',
      `the viewer token covering task "${taskId}" has expired; authorize a fresh one and subscribe again from your cursor`,
      { taskId },
    );
  }

  #expireAgent(agentId: string): void {
    this.#agents.delete(agentId);
    this.hub.removeAgent(agentId, this);
    this.#sendError(
      'token_expired',
      `the viewer token covering agent "${agentId}" has expired; authorize a fresh one and subscribe again`,
      { agentId },
    );
  }

  /** A subscription just covered until `until`: the heartbeat's check must look again by then. */
  #watchExpiry(until: number): void {
    this.#nextExpiry = Math.min(this.#nextExpiry, until);
  }

  async #subscribe(taskId: string, afterSeq: number | undefined, requestId: number): Promise<void> {
    if (this.access.keys !== null && this.#grants === null) {
      // No token at all: refused before any read. (With tokens, an agent-scoped one may cover the
      // task, which only its snapshot tells.)
      if (this.#tasks.has(taskId)) this.#drop(taskId);
      this.#refuseUncovered('unauthorized', requestId, { taskId });
      return;
    }
    if (this.access.keys !== null && !(await this.#mayCover(taskId))) {
      // Refused before it joins the hub or reads a page: a token holder cannot make the server
      // read (or hold the events of) tasks its tokens do not cover.
      const refusal = this.#coverage((grants, now) => grants.coverTask(taskId, undefined, now));
      if (this.#tasks.has(taskId)) this.#drop(taskId);
      this.#refuseUncovered(typeof refusal === 'string' ? refusal : 'forbidden', requestId, { taskId });
      return;
    }
    if (this.#closed) return;
    if (!this.#tasks.has(taskId) && this.#refusedOverLimit(requestId, { taskId })) return;
    // A resubscribe restarts the stream with a new object: an earlier request's read, finding
    // another object in the map, is dropped, so only the latest request is answered.
    const sub: TaskSubscription = { pending: [], sentSeq: 0, coveredUntil: FOREVER, agentId: null };
    this.#tasks.set(taskId, sub);
    // A shared bus hears the task's events from its subscription on: read the snapshot after it,
    // so nothing written in between is missed (events meanwhile wait in `pending`), and, for the
    // first follower here, from the store itself, not from a head this instance knew before.
    const fresh = this.hub.addTask(taskId, this);
    await this.hub.following({ kind: 'task', id: taskId });
    await this.#reads.enter();
    let page;
    try {
      if (this.#closed || this.#tasks.get(taskId) !== sub) return;
      page =
        afterSeq === undefined
          ? await this.store.readPage(taskId, { limit: LIMITS.tailLines, fresh })
          : await this.store.readPage(taskId, { afterSeq, limit: LIMITS.logsPageMax, fresh });
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
    // Checked now, with the task's agent known and with every token authorized meanwhile; until
    // here its events were only held, so none is sent unless the check passes. A task that does
    // not exist is refused like one not covered, unless a token names it (no oracle of ids).
    const coverage = this.#coverage((grants, now) => grants.coverTask(taskId, page?.task.agentId, now));
    if (typeof coverage === 'string') {
      this.#drop(taskId);
      this.#refuseUncovered(coverage, requestId, { taskId });
      return;
    }
    if (!page) {
      this.#drop(taskId);
      this.#sendError('not_found', `no task with id "${taskId}"`, { requestId, taskId });
      return;
    }
    // Half the buffer bound: the snapshot must fit with room to spare for live events.
    const fitted = fitSnapshot(page, afterSeq !== undefined, this.limits.maxBufferedBytes / 2);
    this.#send({ type: 'snapshot', requestId, taskId, ...fitted });
    sub.sentSeq = page.task.seq;
    sub.agentId = page.task.agentId;
    sub.coveredUntil = coverage;
    this.#watchExpiry(coverage);
    const pending = sub.pending ?? [];
    sub.pending = null;
    for (const { event, frame } of pending) this.deliver(event, frame);
  }

  async #watchAgent(agentId: string, requestId: number): Promise<void> {
    const coverage = this.#coverage((grants, now) => grants.coverAgent(agentId, now));
    if (typeof coverage === 'string') {
      if (this.#agents.delete(agentId)) this.hub.removeAgent(agentId, this);
      this.#refuseUncovered(coverage, requestId, { agentId });
      return;
    }
    if (!this.#agents.has(agentId) && this.#refusedOverLimit(requestId, { agentId })) return;
    this.#agents.set(agentId, coverage);
    this.#watchExpiry(coverage);
    this.hub.addAgent(agentId, this);
    await this.hub.following({ kind: 'agent', id: agentId });
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
