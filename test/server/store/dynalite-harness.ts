import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDynamoClient, LOCAL_CREDENTIALS } from '../../../server/store/dynamodb/client.js';
import {
  DynamoTaskStore,
  type DynamoTaskStoreConfig,
} from '../../../server/store/dynamodb/dynamo-task-store.js';
import {
  startEmbeddedDynalite,
  type EmbeddedDynalite,
} from '../../../server/store/dynamodb/embedded-dynalite.js';
import { taskPk } from '../../../server/store/dynamodb/keys.js';
import { DEFAULT_HEAD_FRESH_MS } from '../../../server/store/dynamodb/known-heads.js';
import { ensureTable } from '../../../server/store/dynamodb/table.js';
import { DynamoDbLocal } from '../../support/dynamodb-local.js';
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
 * DynamoDB stores on one DynamoDB-API endpoint, each with its own client, like separate server
 * instances. The stores read with `clock` (unless a test gives one its own): the tests write with
 * fixed dates, and a store hides lines whose TTL has passed by its clock, so reading with the real
 * one would make them depend on today's date.
 */
abstract class EndpointFixture {
  readonly #stores: DynamoTaskStore[] = [];
  /**
   * The stores' monotonic clock, for the age of the heads each knows (known-heads.ts): still
   * unless a test lets them age, so a store answers reads from what it knows as long as it can.
   */
  #monotonicMs = 0;

  constructor(
    readonly clock: () => Date,
    /** What every store of this fixture is opened with (a test's overrides come after). */
    readonly defaults: StoreOverrides = {},
    readonly tableName = TABLE,
  ) {}

  abstract get endpoint(): string;

  /** The endpoint's server restarted (or not, when its data would not survive): see `harness`. */
  protected abstract restartEndpoint(): Promise<void>;

  abstract close(): Promise<void>;

  store(overrides: StoreOverrides = {}, client = testClient(this.endpoint)): DynamoTaskStore {
    const store = new DynamoTaskStore({
      client,
      tableName: this.tableName,
      logTtlDays: 30,
      clock: this.clock,
      monotonicNow: () => this.#monotonicMs,
      ...this.defaults,
      ...overrides,
    });
    this.#stores.push(store);
    return store;
  }

  /** A client of its own whose commands are recorded by name (GetCommand → "Get"). */
  countedClient(): { client: DynamoDBDocumentClient; sent: string[] } {
    const client = testClient(this.endpoint);
    const sent: string[] = [];
    const send = client.send.bind(client) as (command: object) => Promise<unknown>;
    client.send = ((command: object) => {
      sent.push(command.constructor.name.replace(/Command$/, ''));
      return send(command);
    }) as typeof client.send;
    return { client, sent };
  }

  /** The task's item at `sk`, read straight from the table. */
  async rawItem(taskId: string, sk: string): Promise<Record<string, unknown> | undefined> {
    const client = testClient(this.endpoint);
    try {
      const { Item } = await client.send(
        new GetCommand({ TableName: this.tableName, Key: { pk: taskPk(taskId), sk }, ConsistentRead: true }),
      );
      return Item;
    } finally {
      client.destroy();
    }
  }

  /** The freshness bound (or `ms`) passes for every head the stores know: their next reads ask. */
  letHeadsAge(ms = DEFAULT_HEAD_FRESH_MS): void {
    this.#monotonicMs += ms;
  }

  async closeStores(): Promise<void> {
    await Promise.all(this.#stores.splice(0).map((store) => store.close()));
  }

  /** The contract suite's view: a store, a peer (another instance), a restart on the same data. */
  harness(overrides: StoreOverrides = {}): StoreHarness {
    return {
      store: this.store(overrides),
      peer: async () => this.store(overrides),
      letHeadsAge: () => this.letHeadsAge(),
      restart: async () => {
        await this.closeStores();
        await this.restartEndpoint();
        return this.store(overrides);
      },
      close: () => this.close(),
    };
  }
}

/** A real dynalite on a temp directory (port 0) with the table created. */
export class DynaliteFixture extends EndpointFixture {
  dynalite!: EmbeddedDynalite;

  private constructor(
    readonly dataDir: string,
    clock: () => Date,
  ) {
    super(clock);
  }

  static async start(clock: () => Date): Promise<DynaliteFixture> {
    const fixture = new DynaliteFixture(await mkdtemp(path.join(tmpdir(), 'ats-dynalite-')), clock);
    try {
      await fixture.startDynalite();
      await createTable(fixture.endpoint);
    } catch (error) {
      // Nobody else can close a fixture that was never returned.
      await fixture.close();
      throw error;
    }
    return fixture;
  }

  get endpoint(): string {
    return this.dynalite.endpoint;
  }

  /** (Re)starts dynalite on the same directory, on the same port when it had one. */
  async startDynalite(): Promise<void> {
    const port = this.dynalite?.port;
    this.dynalite = await startEmbeddedDynalite({ dataDir: this.dataDir, port });
  }

  protected async restartEndpoint(): Promise<void> {
    await this.dynalite.close();
    await this.startDynalite();
  }

  async close(): Promise<void> {
    try {
      await this.closeStores();
      await this.dynalite?.close();
    } finally {
      await rm(this.dataDir, { recursive: true, force: true });
    }
  }
}

let tables = 0;

/**
 * A table of its own on Amazon's DynamoDB Local (test/support/dynamodb-local.ts; one server per
 * test file, its JVM takes seconds to start), with stores that use transactions, which dynalite
 * lacks. The data lives as long as the server, so a restart here is the stores' (the server
 * instances'), not the endpoint's.
 */
export class DynamoDbLocalFixture extends EndpointFixture {
  private constructor(
    readonly server: DynamoDbLocal,
    clock: () => Date,
    tableName: string,
  ) {
    // The other form of each choice than the dynalite fixture's: transactions, packed lines.
    super(clock, { transactions: true, packedLines: true }, tableName);
  }

  static async start(server: DynamoDbLocal, clock: () => Date): Promise<DynamoDbLocalFixture> {
    const fixture = new DynamoDbLocalFixture(server, clock, `${TABLE}-${++tables}`);
    await createTable(server.endpoint, fixture.tableName);
    return fixture;
  }

  get endpoint(): string {
    return this.server.endpoint;
  }

  protected async restartEndpoint(): Promise<void> {}

  async close(): Promise<void> {
    await this.closeStores();
  }
}

async function createTable(endpoint: string, tableName = TABLE): Promise<void> {
  const client = testClient(endpoint);
  try {
    await ensureTable(client, tableName);
  } finally {
    client.destroy();
  }
}
