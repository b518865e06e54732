import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDynamoClient, LOCAL_CREDENTIALS } from '../../../server/store/dynamodb/client.js';
import {
  DynamoTaskStore,
  type DynamoTaskStoreConfig,
} from '../../../server/store/dynamodb/dynamo-task-store.js';
import {
  startEmbeddedDynalite,
  type EmbeddedDynalite,
} from '../../../server/store/dynamodb/embedded-dynalite.js';
import { DEFAULT_HEAD_FRESH_MS } from '../../../server/store/dynamodb/known-heads.js';
import { ensureTable } from '../../../server/store/dynamodb/table.js';
import type { StoreHarness } from './task-store-contract.js';

export const TABLE = 'tasks-test';

/** Small retry and timeout budgets, so that "unavailable" shows within a second or two. */
export function testClient(endpoint: string): DynamoDBDocumentClient {
  return createDynamoClient({
    endpoint,
    credentials: LOCAL_CREDENTIALS,
    maxAttempts: 2,
    connectionTimeoutMs: 500,
    requestTimeoutMs: 10_000,
  });
}

export type StoreOverrides = Partial<Omit<DynamoTaskStoreConfig, 'client' | 'tableName'>>;

/**
 * A real dynalite on a temp directory (port 0) with the table created, and DynamoDB stores on it;
 * each store has its own client, like separate server instances. The stores read with `clock`
 * (unless a test gives one its own): the tests write with fixed dates, and a store hides lines
 * whose TTL has passed by its clock, so reading with the real one would make them depend on
 * today's date.
 */
export class DynaliteFixture {
  dynalite!: EmbeddedDynalite;
  readonly #stores: DynamoTaskStore[] = [];
  /**
   * The stores' monotonic clock, for the age of the heads each knows (known-heads.ts): still
   * unless a test lets them age, so a store answers reads from what it knows as long as it can.
   */
  #monotonicMs = 0;

  private constructor(
    readonly dataDir: string,
    readonly clock: () => Date,
  ) {}

  static async start(clock: () => Date): Promise<DynaliteFixture> {
    const fixture = new DynaliteFixture(await mkdtemp(path.join(tmpdir(), 'ats-dynalite-')), clock);
    try {
      await fixture.startDynalite();
      const client = testClient(fixture.dynalite.endpoint);
      try {
        await ensureTable(client, TABLE);
      } finally {
        client.destroy();
      }
    } catch (error) {
      // Nobody else can close a fixture that was never returned.
      await fixture.close();
      throw error;
    }
    return fixture;
  }

  /** (Re)starts dynalite on the same directory, on the same port when it had one. */
  async startDynalite(): Promise<void> {
    const port = this.dynalite?.port;
    this.dynalite = await startEmbeddedDynalite({ dataDir: this.dataDir, port });
  }

  store(overrides: StoreOverrides = {}, client = testClient(this.dynalite.endpoint)): DynamoTaskStore {
    const store = new DynamoTaskStore({
      client,
      tableName: TABLE,
      logTtlDays: 30,
      clock: this.clock,
      monotonicNow: () => this.#monotonicMs,
      ...overrides,
    });
    this.#stores.push(store);
    return store;
  }

  /** The freshness bound passes for every head the stores know: their next reads ask dynalite. */
  letHeadsAge(): void {
    this.#monotonicMs += DEFAULT_HEAD_FRESH_MS;
  }

  async closeStores(): Promise<void> {
    await Promise.all(this.#stores.splice(0).map((store) => store.close()));
  }

  async close(): Promise<void> {
    try {
      await this.closeStores();
      await this.dynalite?.close();
    } finally {
      await rm(this.dataDir, { recursive: true, force: true });
    }
  }

  /** The contract suite's view: a store, a peer (another instance), a restart on the same path. */
  harness(overrides: StoreOverrides = {}): StoreHarness {
    return {
      store: this.store(overrides),
      peer: async () => this.store(overrides),
      letHeadsAge: () => this.letHeadsAge(),
      restart: async () => {
        await this.closeStores();
        await this.dynalite.close();
        await this.startDynalite();
        return this.store(overrides);
      },
      close: () => this.close(),
    };
  }
}
