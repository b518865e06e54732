import { randomUUID } from 'node:crypto';
import { createClient } from '@redis/client';
import { AgentTaskMessageSchema, UpdateMessageSchema } from '../../protocol/index.js';
import { z } from 'zod';
import type { BusEvent, BusKey, BusListener, TaskBus } from './task-bus.js';
import { keyOf } from './task-bus.js';
import type { RedisCommands } from '../http/shared-rate-limiter.js';

/**
 * The bus shared by several server instances through Redis (REDIS_URL; issue 14).
 *
 * - Each stored write is delivered to this instance's listeners at once, and published once to
 *   Redis on a sharded channel of its task (`ats:task:<id>`) or agent (`ats:agent:<id>`), with
 *   SPUBLISH, so it also works on Redis Cluster, where a channel lives on one shard.
 * - An instance subscribes (SSUBSCRIBE) only to the channels of tasks and agents its sockets
 *   follow (the hub says when: `follow`/`unfollow`), and drops its own messages coming back.
 * - Pub/sub loses messages: while a connection is down, and whatever Redis held when it
 *   restarted. The store does not, so after a gap (a connection back up) the bus asks it:
 *   for every task followed here, what came after the last seq delivered here (`catchUp`), and
 *   for every task this instance wrote while it could not publish, what others missed; both as
 *   ordinary updates (sessions and clients drop what they already have, by seq).
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

interface Followed {
  key: BusKey;
  /** Tasks: the highest seq delivered here; agents: the active task's id last delivered. */
  last: number | string | null | undefined;
}

export class RedisTaskBus implements TaskBus {
  readonly #origin = randomUUID();
  readonly #listeners = new Set<BusListener>();
  readonly #followed = new Map<string, Followed>();
  /** Tasks (and agents) written here whose publish failed: the first seq others may lack. */
  readonly #unpublished = new Map<string, { key: BusKey; afterSeq: number | undefined }>();
  readonly #publisher;
  readonly #subscriber;
  readonly #options: RedisBusOptions;
  readonly #prefix: string;
  readonly #log: Pick<Console, 'error' | 'warn'>;
  #state: RedisBusState = 'down';
  #started = false;
  readonly #subscribing = new Set<Promise<void>>();
  /** A catch-up under way (one at a time); awaited by tests and close(). */
  #catchingUp: Promise<void> = Promise.resolve();

  private constructor(options: RedisBusOptions) {
    this.#options = options;
    this.#prefix = options.prefix ?? 'ats:';
    this.#log = options.log ?? console;
    const socket = {
      // At start a bad URL or a Redis that is not there stops the server; later, retry for ever.
      reconnectStrategy: (retries: number, cause: Error) => (this.#started ? reconnectDelay(retries) : cause),
      connectTimeout: 5_000,
    };
    // Publishes fail at once while the link is down (no unbounded queue): the write is stored, and
    // the task is caught up once the link is back.
    this.#publisher = createClient({
      url: options.url,
      socket,
      disableOfflineQueue: true,
      pingInterval: 5_000,
    });
    this.#subscriber = this.#publisher.duplicate({ disableOfflineQueue: false });
    for (const [name, client] of [
      ['publisher', this.#publisher],
      ['subscriber', this.#subscriber],
    ] as const) {
      client.on('error', (error: Error) => {
        if (this.#started) this.#log.warn(`redis ${name}: ${error.message}`);
      });
      client.on('end', () => this.#setState());
      client.on('reconnecting', () => this.#setState());
      client.on('ready', () => {
        const wasDown = this.#state !== 'up';
        this.#setState();
        if (this.#started && wasDown && this.#state === 'up') this.#scheduleCatchUp();
      });
    }
  }

  /** Connects both links; rejects with one clear line when Redis cannot be reached at `url`. */
  static async connect(options: RedisBusOptions): Promise<RedisTaskBus> {
    const bus = new RedisTaskBus(options);
    try {
      await bus.#publisher.connect();
      await bus.#subscriber.connect();
    } catch (error) {
      await bus.#destroy();
      throw new Error(`REDIS_URL ${redactedUrl(options.url)}: cannot connect (${(error as Error).message})`, {
        cause: error,
      });
    }
    bus.#started = true;
    bus.#setState();
    return bus;
  }

  /** The command link (it fails at once while down), for the limits shared through Redis. */
  get commands(): RedisCommands {
    return this.#publisher;
  }

  get state(): RedisBusState {
    return this.#state;
  }

  /** Resolves when the catch-up started by the last reconnect is done. */
  caughtUp(): Promise<void> {
    return this.#catchingUp;
  }

  publish(event: BusEvent): void {
    this.#deliver(event);
    const key = keyOf(event);
    if (this.#state !== 'up' && this.#started) {
      this.#markUnpublished(key, event);
      return;
    }
    this.#publisher
      .sPublish(this.#channel(key), JSON.stringify({ origin: this.#origin, event }))
      .catch(() => this.#markUnpublished(key, event));
  }

  subscribe(listener: BusListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Resolves once Redis has acknowledged the subscription, or at once while the link is down
   * (the catch-up after it comes back covers what was written meanwhile).
   */
  follow(key: BusKey): Promise<void> {
    const id = this.#channel(key);
    if (this.#followed.has(id)) return Promise.resolve();
    this.#followed.set(id, { key, last: undefined });
    // Queued while the link is down; the client subscribes again by itself after a reconnect.
    const subscribing = this.#subscriber.sSubscribe(id, this.#onMessage).catch((error: Error) => {
      this.#log.warn(`redis: could not subscribe to ${id}: ${error.message}`);
    });
    this.#subscribing.add(subscribing);
    void subscribing.then(() => this.#subscribing.delete(subscribing));
    return this.#state === 'up' ? subscribing : Promise.resolve();
  }

  /** Resolves once Redis has acknowledged every subscription asked for so far. */
  async subscribed(): Promise<void> {
    await Promise.all(this.#subscribing);
  }

  unfollow(key: BusKey): void {
    const id = this.#channel(key);
    if (!this.#followed.delete(id)) return;
    this.#subscriber.sUnsubscribe(id, this.#onMessage).catch(() => {
      // Gone with the connection; nothing is subscribed on a new one unless followed.
    });
  }

  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#started = false;
    this.#state = 'closed';
    this.#listeners.clear();
    await this.#catchingUp;
    await this.#destroy();
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
    const id = this.#channel(key);
    if (this.#unpublished.has(id)) return;
    if (this.#unpublished.size >= UNPUBLISHED_MAX) {
      // Past the bound, the others' clients find the gap themselves (heartbeat, resubscribe).
      return;
    }
    const afterSeq = event.type === 'update' ? event.fromSeq - 1 : undefined;
    this.#unpublished.set(id, { key, afterSeq });
  }

  #setState(): void {
    if (this.#state === 'closed') return;
    this.#state = this.#publisher.isReady && this.#subscriber.isReady ? 'up' : 'down';
  }

  #scheduleCatchUp(): void {
    this.#catchingUp = this.#catchingUp.then(() => this.#catchUp());
  }

  /** After a gap: tell the others what this instance wrote meanwhile, and ask the store what it missed. */
  async #catchUp(): Promise<void> {
    const unpublished = [...this.#unpublished.values()];
    this.#unpublished.clear();
    for (const { key, afterSeq } of unpublished) {
      if (this.#state !== 'up') break;
      try {
        const event =
          key.kind === 'task'
            ? await this.#options.catchUp(key.id, afterSeq)
            : await this.#options.catchUpAgent(key.id);
        if (event) {
          await this.#publisher.sPublish(this.#channel(key), JSON.stringify({ origin: this.#origin, event }));
        }
      } catch (error) {
        this.#log.warn(`redis: catching up ${key.kind} ${key.id} failed: ${(error as Error).message}`);
        this.#unpublished.set(this.#channel(key), { key, afterSeq });
      }
    }
    for (const followed of [...this.#followed.values()]) {
      if (this.#state === 'closed') break;
      const { key } = followed;
      try {
        if (key.kind === 'task') {
          const last = typeof followed.last === 'number' ? followed.last : undefined;
          const event = await this.#options.catchUp(key.id, last);
          if (event) this.#deliver(event);
        } else {
          const event = await this.#options.catchUpAgent(key.id);
          const taskId = event.type === 'agent-task' ? (event.task?.id ?? null) : null;
          if (taskId !== followed.last) this.#deliver(event);
        }
      } catch (error) {
        this.#log.warn(`redis: catching up ${key.kind} ${key.id} failed: ${(error as Error).message}`);
      }
    }
  }

  #channel(key: BusKey): string {
    return `${this.#prefix}${key.kind}:${key.id}`;
  }

  async #destroy(): Promise<void> {
    for (const client of [this.#subscriber, this.#publisher]) {
      try {
        client.destroy();
      } catch {
        // Never connected.
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
