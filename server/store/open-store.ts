import path from 'node:path';
import { createDynamoClient, credentialsFor, LOCAL_CREDENTIALS } from './dynamodb/client.js';
import { DynamoTaskStore, STATUS_WRITE_BEHIND_MS } from './dynamodb/dynamo-task-store.js';
import { startEmbeddedDynalite, type EmbeddedDynaliteStats } from './dynamodb/embedded-dynalite.js';
import { ensureTable, supportsTransactions, tableExists } from './dynamodb/table.js';
import type { LogQuota } from './log-quota.js';
import { MemoryTaskStore } from './memory-store.js';
import type { TaskStore } from './task-store.js';

/**
 * Which store to open. The environment it is meant to come from (read by server/config.ts):
 * - `STORE`: `memory` | `dynamodb` (default `dynamodb`);
 * - `DYNAMODB_ENDPOINT`, `AWS_REGION`: neither set → dynalite embedded in this process, under
 *   `DATA_DIR`; an endpoint (DynamoDB Local, a dynalite server) → that, the table created when
 *   missing; only a region → AWS DynamoDB, where the table must exist (infra/, scripts/create-table.ts);
 * - `TABLE_NAME` (default `agent-task-status`), `DATA_DIR` (default `./.data`; the embedded
 *   dynalite keeps its LevelDB in `<DATA_DIR>/dynalite`), `LOG_TTL_DAYS` (default 30).
 */
export interface OpenStoreOptions {
  kind: 'memory' | 'dynamodb';
  /** DATA_DIR: the embedded dynalite uses `<dataDir>/dynalite`; unused otherwise. */
  dataDir: string;
  logTtlDays: number;
  /** HEAD_FRESH_MS: how long a known head answers reads (DynamoDB store; default 5 s). */
  headFreshMs?: number;
  /** DYNAMODB_TRANSACTIONS: keyed writes in one transaction (see DynamoTaskStoreConfig.transactions). */
  transactions?: boolean;
  /** DYNAMODB_PACKED_LINES, for a DynamoDB at an endpoint or on AWS (the embedded dynalite packs). */
  packedLines?: boolean;
  /** TASK_LOG_MAX_LINES, TASK_LOG_MAX_BYTES (default DEFAULT_LOG_QUOTA). */
  logQuota?: LogQuota;
  dynamodb?: {
    endpoint?: string;
    region?: string;
    tableName: string;
  };
}

export interface OpenedStore {
  store: TaskStore;
  /** Closes the store and whatever it started (the embedded dynalite). */
  close(): Promise<void>;
  /** One line for the startup log, e.g. `dynamodb (embedded dynalite, .data/dynalite)`. */
  description: string;
  /** The embedded dynalite's own figures, for /metrics; only when this process runs it. */
  embeddedStats?: () => Promise<EmbeddedDynaliteStats>;
}

/**
 * A DynamoDB over the network answers in milliseconds (a 1 MB Query page in tens); one that has
 * not answered in 1.5 s is hung or gone, and with the client's 3 attempts a request then fails as
 * a 503 after about 5 s (3 × 1.5 s plus the SDK's short retry delays) instead of about 15 s. The
 * embedded dynalite keeps the client's 5 s: it shares our event loop, so a request to it waits
 * behind our own work (a burst of resubscribes, say), not a network, and cannot hang apart from us.
 */
export const REMOTE_REQUEST_TIMEOUT_MS = 1_500;

export async function openStore(options: OpenStoreOptions): Promise<OpenedStore> {
  if (options.kind === 'memory') {
    const store = new MemoryTaskStore({ logQuota: options.logQuota });
    return { store, close: () => store.close(), description: 'memory (not persisted)' };
  }
  const tableName = options.dynamodb?.tableName ?? 'agent-task-status';
  const endpoint = options.dynamodb?.endpoint;
  const region = options.dynamodb?.region;

  if (endpoint === undefined && region === undefined) {
    if (options.transactions) {
      throw new Error(
        'DYNAMODB_TRANSACTIONS=1 needs DYNAMODB_ENDPOINT or AWS_REGION: the embedded dynalite has no transactions',
      );
    }
    const dataDir = path.resolve(options.dataDir, 'dynalite');
    const embedded = await startEmbeddedDynalite({ dataDir });
    try {
      const client = createDynamoClient({
        endpoint: embedded.endpoint,
        credentials: LOCAL_CREDENTIALS,
        unsigned: true,
      });
      await ensureTable(client, tableName);
      const store = new DynamoTaskStore({
        client,
        tableName,
        logTtlDays: options.logTtlDays,
        headFreshMs: options.headFreshMs,
        logQuota: options.logQuota,
        // Here only: dynalite never deletes an item (it has no TTL), so a batch whose status
        // update was lost to a crash stays, and every read folds it in. On DynamoDB, TTL would
        // delete it after LOG_TTL_DAYS and the status item would fall back to an older head.
        statusWriteBehindMs: STATUS_WRITE_BEHIND_MS,
        // One instance on its own files: nothing older reads them at the same time.
        packedLines: true,
        onClose: () => embedded.close(),
      });
      return {
        store,
        close: () => store.close(),
        description: `dynamodb (embedded dynalite, ${dataDir}, table ${tableName})`,
        embeddedStats: () => embedded.stats(),
      };
    } catch (error) {
      await embedded.close();
      throw error;
    }
  }

  const client = createDynamoClient({
    endpoint,
    region,
    credentials: credentialsFor(endpoint),
    requestTimeoutMs: REMOTE_REQUEST_TIMEOUT_MS,
  });
  const transactions = options.transactions ?? false;
  try {
    if (endpoint !== undefined) {
      await ensureTable(client, tableName);
    } else if (!(await tableExists(client, tableName))) {
      throw new Error(
        `DynamoDB table ${tableName} does not exist in ${region}: create it with ` +
          '`node --import tsx scripts/create-table.ts` or infra/dynamodb-table.json',
      );
    }
    if (transactions && !(await supportsTransactions(client, tableName))) {
      throw new Error('DYNAMODB_TRANSACTIONS=1, but it has no transactions (dynalite?): unset it');
    }
  } catch (error) {
    client.destroy();
    const where = endpoint ?? `AWS ${region}`;
    throw new Error(`DynamoDB at ${where} is not usable: ${(error as Error).message}`, { cause: error });
  }
  const store = new DynamoTaskStore({
    client,
    tableName,
    logTtlDays: options.logTtlDays,
    headFreshMs: options.headFreshMs,
    logQuota: options.logQuota,
    transactions,
    packedLines: options.packedLines ?? false,
  });
  return {
    store,
    close: () => store.close(),
    description: `dynamodb (${endpoint ?? `AWS ${region}`}, table ${tableName}${transactions ? ', with transactions' : ''})`,
  };
}
