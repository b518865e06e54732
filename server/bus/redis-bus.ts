import { randomUUID } from 'node:crypto';
import { createClient } from '@redis/client';
import { z } from 'zod';
import { AgentTaskMessageSchema, UpdateMessageSchema } from '../../protocol/index.js';
import type { RedisCommands } from '../http/shared-rate-limiter.js';
import type { BusEvent, BusKey, BusListener, TaskBus } from './task-bus.js';
import { keyOf } from './task-bus.js';

/**
 * The bus shared by several server instances through one Redis (REDIS_URL; issue 14).
 *
 * - Each stored write is delivered to this instance's listeners at once, and published once to
 *   Redis on a channel of its task (`ats:task:<id>`) or agent (`ats:agent:<id>`) with SPUBLISH
 *   (sharded pub/sub: a channel is bound to one shard, ready for Redis Cluster; this client talks
 *   to one Redis node, a primary, so Cluster itself is not supported yet).
 * - An instance subscribes (SSUBSCRIBE) only to the channels of tasks and agents its sockets
 *   follow (the hub says when: `follow`/`unfollow`), and drops its own messages coming back.
 * - Pub/sub loses messages: while a link is down, whatever Redis held when it restarted, and
 *   while Redis hangs. The store does not, so after every such gap the bus recovers, in order:
 *   it subscribes again to what is followed (and drops what is not), republishes, read from the
 *   store, what this instance wrote while it could not publish, and delivers to its own sockets
 *   what each followed task gained since the last seq delivered here (read from the store itself,
 *   not from heads this instance knew). Sessions drop what their client already has, by seq.
 *   And every RESYNC_MS anyway: a write whose publish was lost for good (its instance died while
 *   cut off from Redis) reaches other instances' sockets within that bound.
 */

export interface RedisBusOptions {
  url: string;
  /** What followers of a task may have missed after `afterSeq`; null: nothing. From the store. */
  catchUp(taskId: string, afterSeq: number | undefined): Promise<BusEvent | null>;
  /** An agent's active task now, from the store. */
  catchUpAgent(agentId: string): Promise<BusEvent>;
  log?: Pick<Console, 'error' | 'warn'>;
  /** Channel prefix (default `ats:`): several deployments can share one Redis. */
  prefix?: string;
  /** How often followed tasks are caught up from the store regardless (default RESYNC_MS). */
  resyncMs?: number;
}

/** How the instance's link to Redis stands, for readiness. */
export type RedisBusState = 'up' | 'down' | 'closed';

/** Reconnect delays: doubling from 100 ms to 5 s, each jittered, for as long as it takes. */
function reconnectDelay(retries: number): number {
  const ceiling = Math.min(5_000, 100 * 2 ** Math.min(retries, 6));
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

/** What travels on a channel: the event and which instance published it. */
const EnvelopeSchema = z.object({
  origin: z.string(),
  event: z.discriminatedUnion('type', [UpdateMessageSchema, AgentTaskMessageSchema]),
});

/** Tasks written here while Redis could not be told: at most this many are remembered. */
const UNPUBLISHED_MAX = 10_000;
/**
 * A Redis that stops answering (a hung process, a silent partition) keeps its TCP connections:
 * it is asked every HEALTH_CHECK_MS and counts as down once a PING waits HEALTH_TIMEOUT_MS.
 */
const HEALTH_CHECK_MS = 2_000;
const HEALTH_TIMEOUT_MS = 3_000;
/** Followed tasks caught up at once from the store after a gap. */
const CATCH_UP_PARALLEL = 16;
/**
 * Every followed task is also caught up from the store this often, whatever Redis says: the bound
 * on how late a write shows whose publish was lost for good (its instance died cut off from Redis,
 * or past UNPUBLISHED_MAX). With nothing new, a task costs one head read per pass.
 */
export const RESYNC_MS = 60_000;
/** How long a new subscription waits for Redis's answer before its snapshot is read anyway. */
const FOLLOW_WAIT_MAX_MS = 2_000;

/** The publishing link: it fails at once while down, rather than queue without bound. */
function publishingClient(url: string, reconnectStrategy: (retries: number, cause: Error) => number | Error) {
  return createClient({
    url,
    socket: { reconnectStrategy, connectTimeout: 5_000 },
    disableOfflineQueue: true,
  });
}

type RedisClient = ReturnType<typeof publishingClient>;

/** The steps of a recovery after a gap (see the top of this file). */
interface Recovery {
  resubscribe: boolean;
  republish: boolean;
  followers: boolean;
}

interface Followed {
  key: BusKey;
  /** Tasks: the highest seq delivered here; agents: the active task's id last delivered. */
  last: number | string | null | undefined;
  /**
   * Set once Redis acknowledged the subscription on the links up now, and dropped when they go
   * down: while it stays the same object, every event of the key reached this instance (`hearing`).
   */
  heard?: object;
}

export class RedisTaskBus implements TaskBus {
  readonly #origin = randomUUID();
  readonly #listeners = new Set<BusListener>();
  readonly #followed = new Map<string, Followed>();
  /** Tasks (and agents) written here whose publish failed: the seq after which others may lack events. */
  readonly #unpublished = new Map<string, { key: BusKey; afterSeq: number | undefined }>();
  #publisher!: RedisClient;
  #subscriber!: RedisClient;
  readonly #options: RedisBusOptions;
  readonly #prefix: string;
  readonly #log: Pick<Console, 'error' | 'warn'>;
  #state: RedisBusState = 'down';
  #started = false;
  /** Redis stopped answering PINGs on a connection that still looks open. */
  #hung = false;
  #healthTimer: ReturnType<typeof setInterval> | undefined;
  #resyncTimer: ReturnType<typeof setInterval> | undefined;
  readonly #subscribing = new Set<Promise<void>>();
  /** What the next recovery pass must do, and the pass under way (one at a time, merged). */
  readonly #pending: Recovery = { resubscribe: false, republish: false, followers: false };
  #recovery: Promise<void> | null = null;

  private constructor(options: RedisBusOptions) {
    this.#options = options;
    this.#prefix = options.prefix ?? 'ats:';
    this.#log = options.log ?? console;
    this.#openClients();
  }

  /** Both links, new (the old ones, if any, are the caller's to destroy). */
  #openClients(): void {
    // At start a bad URL or a Redis that is not there stops the server; later, retry for ever.
    const publisher = publishingClient(this.#options.url, (retries, cause) =>
      this.#started ? reconnectDelay(retries) : cause,
    );
    // Publishes fail at once while the link is down: the write is stored, and republished once the
    // link is back. Subscriptions asked meanwhile wait for it (one per followed key at most).
    const subscriber = publisher.duplicate({ disableOfflineQueue: false });
    this.#publisher = publisher;
    this.#subscriber = subscriber;
    for (const [name, client] of [
      ['publisher', publisher],
      ['subscriber', subscriber],
    ] as const) {
      // Only the current links count: a replaced one may still report its end.
      const current = () => client === this.#publisher || client === this.#subscriber;
      client.on('error', (error: Error) => {
        if (this.#started && current()) this.#log.warn(`redis ${name}: ${error.message}`);
      });
      for (const event of ['end', 'reconnecting', 'ready']) {
        client.on(event, () => {
          if (current()) this.#setState();
        });
      }
    }
  }

  /** Connects both links; rejects with one clear line when Redis cannot be reached at `url`. */
  static async connect(options: RedisBusOptions): Promise<RedisTaskBus> {
    const bus = new RedisTaskBus(options);
    try {
      await bus.#publisher.connect();
      await bus.#subscriber.connect();
    } catch (error) {
      bus.#destroy();
      throw new Error(`REDIS_URL ${redactedUrl(options.url)}: cannot connect (${(error as Error).message})`, {
        cause: error,
      });
    }
    bus.#started = true;
    bus.#setState();
    bus.#healthTimer = setInterval(() => bus.#checkHealth(), HEALTH_CHECK_MS);
    bus.#healthTimer.unref();
    bus.#resyncTimer = setInterval(() => {
      if (bus.#state === 'up') bus.#recover({ followers: true });
    }, options.resyncMs ?? RESYNC_MS);
    bus.#resyncTimer.unref();
    return bus;
  }

  /** The command link (it fails at once while down), for the limits shared through Redis. */
  get commands(): RedisCommands {
    const bus = this;
    return {
      get isReady() {
        return bus.#publisher.isReady && !bus.#hung;
      },
      eval: (script, options) => bus.#publisher.eval(script, options),
    };
  }

  get state(): RedisBusState {
    return this.#state;
  }

  /** Resolves when the recovery under way (after the last gap) is done. */
  async caughtUp(): Promise<void> {
    while (this.#recovery) await this.#recovery;
  }

  publish(event: BusEvent): void {
    this.#deliver(event);
    const key = keyOf(event);
    if (!this.#publisher.isReady || this.#hung) {
      this.#markUnpublished(key, event);
      return;
    }
    this.#publisher
      .sPublish(this.#channel(key), JSON.stringify({ origin: this.#origin, event }))
      .catch(() => {
        this.#markUnpublished(key, event);
        // Reported after the link came back, or a failure that kept it up: nothing else would send it.
        if (this.#state === 'up') this.#recover({ republish: true });
      });
  }

  subscribe(listener: BusListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Resolves once Redis has acknowledged the subscription, or at once while the link is down
   * (the recovery after it comes back covers what was written meanwhile).
   */
  follow(key: BusKey): Promise<void> {
    const id = this.#channel(key);
    if (this.#followed.has(id)) return Promise.resolve();
    this.#followed.set(id, { key, last: undefined });
    const subscribing = this.#sSubscribe(id);
    if (this.#state !== 'up') return Promise.resolve();
    // Not for ever: a Redis that hangs must not hold a panel's snapshot (its recovery covers it).
    return Promise.race([
      subscribing,
      new Promise<void>((resolve) => setTimeout(resolve, FOLLOW_WAIT_MAX_MS)),
    ]);
  }

  /** Resolves once Redis has answered every subscription asked for so far. */
  async subscribed(): Promise<void> {
    await Promise.all(this.#subscribing);
  }

  hearing(taskId: string): object | undefined {
    return this.#state === 'up'
      ? this.#followed.get(this.#channel({ kind: 'task', id: taskId }))?.heard
      : undefined;
  }

  unfollow(key: BusKey): void {
    const id = this.#channel(key);
    if (!this.#followed.delete(id)) return;
    this.#subscriber.sUnsubscribe(id, this.#onMessage).catch(() => {
      // Lost with the connection: the recovery after it unsubscribes what is no longer followed.
    });
  }

  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    clearInterval(this.#healthTimer);
    clearInterval(this.#resyncTimer);
    this.#listeners.clear();
    // What this instance wrote and could not publish yet: one last try while the link is up.
    if (this.#state === 'up' && this.#unpublished.size > 0) this.#recover({ republish: true });
    await this.caughtUp();
    this.#started = false;
    this.#state = 'closed';
    // Gracefully (replies to publishes in flight first), but not for ever.
    await Promise.race([
      Promise.allSettled([this.#publisher.close(), this.#subscriber.close()]),
      new Promise((resolve) => setTimeout(resolve, 2_000).unref()),
    ]);
    this.#destroy();
  }

  readonly #onMessage = (message: string): void => {
    let parsed;
    try {
      parsed = EnvelopeSchema.safeParse(JSON.parse(message));
    } catch {
      parsed = null;
    }
    if (!parsed?.success) {
      this.#log.warn('redis: dropped a message that is not a bus event');
      return;
    }
    if (parsed.data.origin === this.#origin) return;
    this.#deliver(parsed.data.event);
  };

  #sSubscribe(id: string): Promise<void> {
    // The follow this subscription is for: after an unfollow and a new follow meanwhile, its
    // answer says nothing of the new one (whose unsubscribe and subscribe may still be in flight).
    const entry = this.#followed.get(id);
    // Queued while the link is down; one lost in flight is sent again by the recovery.
    const subscribing = this.#subscriber.sSubscribe(id, this.#onMessage).then(
      // Acknowledged on the links up now (a drop would have set the state down before this runs).
      () => this.#heardFrom(id, entry),
      (error: Error) => {
        this.#log.warn(`redis: could not subscribe to ${id}: ${error.message}`);
      },
    );
    this.#subscribing.add(subscribing);
    void subscribing.then(() => this.#subscribing.delete(subscribing));
    return subscribing;
  }

  /** Every event of `id` reaches this instance from now on, as long as the links stay up. */
  #heardFrom(id: string, entry = this.#followed.get(id)): void {
    const followed = this.#followed.get(id);
    if (followed && followed === entry && this.#state === 'up') followed.heard ??= {};
  }

  #deliver(event: BusEvent): void {
    const followed = this.#followed.get(this.#channel(keyOf(event)));
    if (followed) {
      if (event.type === 'update') followed.last = Math.max(Number(followed.last ?? 0), event.task.seq);
      else followed.last = event.task?.id ?? null;
    }
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.#log.error('bus listener failed', error);
      }
    }
  }

  #markUnpublished(key: BusKey, event: BusEvent): void {
    if (this.#unpublished.size >= UNPUBLISHED_MAX && !this.#unpublished.has(this.#channel(key))) {
      this.#log.warn(
        `redis: more than ${UNPUBLISHED_MAX} tasks written while Redis was unreachable; other instances' panels of the rest catch up at their next resync (within ${RESYNC_MS / 1000} s)`,
      );
      return;
    }
    this.#keepUnpublished(key, event.type === 'update' ? event.fromSeq - 1 : undefined);
  }

  /** Keeps `key` to republish from `afterSeq`, or from an earlier seq already kept. */
  #keepUnpublished(key: BusKey, afterSeq: number | undefined): void {
    const id = this.#channel(key);
    const kept = this.#unpublished.get(id);
    if (kept && (kept.afterSeq ?? Infinity) <= (afterSeq ?? Infinity)) return;
    this.#unpublished.set(id, { key, afterSeq });
  }

  #setState(): void {
    if (this.#state === 'closed') return;
    const was = this.#state;
    this.#state = this.#publisher.isReady && this.#subscriber.isReady && !this.#hung ? 'up' : 'down';
    if (this.#state !== 'up') for (const followed of this.#followed.values()) delete followed.heard;
    // A link is ready only once node-redis has resubscribed (and Redis acknowledged) its channels.
    else if (was !== 'up') {
      for (const [id, listeners] of this.#subscriber.getPubSubListeners('SHARDED')) {
        // One being unsubscribed is not heard, whatever a follow since says.
        if (!(listeners as { unsubscribing?: boolean }).unsubscribing) this.#heardFrom(id);
      }
    }
    // Back after a gap: whatever pub/sub lost meanwhile comes from the store.
    if (this.#started && was === 'down' && this.#state === 'up') {
      this.#recover({ resubscribe: true, republish: true, followers: true });
    }
  }

  /** A PING that waits too long means a Redis that hangs: down until it answers again. */
  #checkHealth(): void {
    if (!this.#publisher.isReady) return;
    let answered = false;
    const timer = setTimeout(() => {
      if (answered || this.#state === 'closed') return;
      this.#log.warn(`redis: no answer to PING within ${HEALTH_TIMEOUT_MS} ms; reconnecting`);
      this.#replaceClients();
    }, HEALTH_TIMEOUT_MS);
    timer.unref();
    this.#publisher.ping().then(
      () => {
        answered = true;
        clearTimeout(timer);
      },
      () => {
        answered = true;
        clearTimeout(timer);
      },
    );
  }

  /**
   * Redis hangs on connections that look open: commands (publishes, their payloads) would pile up
   * on them until TCP gives up, many minutes later. New links instead: the old ones' commands fail
   * now (their writes are republished from the store), and the new ones are up when Redis answers.
   */
  #replaceClients(): void {
    const old = [this.#publisher, this.#subscriber];
    this.#hung = true;
    this.#openClients();
    this.#setState();
    for (const client of old) client.destroy();
    this.#hung = false;
    for (const client of [this.#publisher, this.#subscriber]) {
      client.connect().catch((error: Error) => {
        if (this.#state !== 'closed') this.#log.warn(`redis: reconnecting failed: ${error.message}`);
      });
    }
  }

  /** Asks for a recovery pass; passes run one at a time, and requests meanwhile merge into the next. */
  #recover(what: Partial<Recovery>): void {
    Object.assign(this.#pending, what);
    this.#recovery ??= this.#runRecovery().finally(() => {
      this.#recovery = null;
    });
  }

  async #runRecovery(): Promise<void> {
    const pending = this.#pending;
    while (this.#state === 'up' && (pending.resubscribe || pending.republish || pending.followers)) {
      const { resubscribe, republish, followers } = pending;
      pending.resubscribe = pending.republish = pending.followers = false;
      try {
        if (resubscribe) await this.#resubscribe();
        if (republish) await this.#republish();
        if (followers) await this.#catchUpFollowers();
      } catch (error) {
        this.#log.warn(`redis: recovery failed: ${(error as Error).message}`);
      }
    }
  }

  /** Subscribed to exactly what is followed: one lost in flight at a drop is asked again. */
  async #resubscribe(): Promise<void> {
    const subscribed = this.#subscriber.getPubSubListeners('SHARDED');
    const asked: Promise<void>[] = [];
    for (const id of this.#followed.keys()) if (!subscribed.has(id)) asked.push(this.#sSubscribe(id));
    for (const id of subscribed.keys()) {
      if (!this.#followed.has(id)) asked.push(this.#subscriber.sUnsubscribe(id).catch(() => {}));
    }
    await Promise.all(asked);
  }

  /** Tells the others, from the store, what this instance wrote while it could not publish. */
  async #republish(): Promise<void> {
    const unpublished = [...this.#unpublished.values()];
    this.#unpublished.clear();
    for (const [index, { key, afterSeq }] of unpublished.entries()) {
      if (this.#state !== 'up') {
        // Down again: the rest waits for the next recovery.
        for (const rest of unpublished.slice(index)) this.#keepUnpublished(rest.key, rest.afterSeq);
        return;
      }
      try {
        const event =
          key.kind === 'task'
            ? await this.#options.catchUp(key.id, afterSeq)
            : await this.#options.catchUpAgent(key.id);
        if (event) {
          await this.#publisher.sPublish(this.#channel(key), JSON.stringify({ origin: this.#origin, event }));
        }
      } catch (error) {
        this.#log.warn(`redis: republishing ${key.kind} ${key.id} failed: ${(error as Error).message}`);
        this.#keepUnpublished(key, afterSeq);
      }
    }
  }

  /** Delivers to this instance's sockets, from the store, what they missed; a few tasks at a time. */
  async #catchUpFollowers(): Promise<void> {
    const followed = [...this.#followed.values()];
    for (let i = 0; i < followed.length && this.#state === 'up'; i += CATCH_UP_PARALLEL) {
      await Promise.all(followed.slice(i, i + CATCH_UP_PARALLEL).map((one) => this.#catchUpOne(one)));
    }
  }

  async #catchUpOne(followed: Followed): Promise<void> {
    const { key } = followed;
    try {
      if (key.kind === 'task') {
        const last = typeof followed.last === 'number' ? followed.last : undefined;
        const event = await this.#options.catchUp(key.id, last);
        if (event && this.#followed.get(this.#channel(key)) === followed) this.#deliver(event);
      } else {
        const event = await this.#options.catchUpAgent(key.id);
        const taskId = event.type === 'agent-task' ? (event.task?.id ?? null) : null;
        if (taskId !== followed.last && this.#followed.get(this.#channel(key)) === followed)
          this.#deliver(event);
      }
    } catch (error) {
      this.#log.warn(`redis: catching up ${key.kind} ${key.id} failed: ${(error as Error).message}`);
    }
  }

  #channel(key: BusKey): string {
    return `${this.#prefix}${key.kind}:${key.id}`;
  }

  #destroy(): void {
    for (const client of [this.#subscriber, this.#publisher]) {
      try {
        client.destroy();
      } catch {
        // Never connected, or already closed.
      }
    }
  }
}

/** The URL without its password, for messages. */
function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(not a URL)';
  }
}
