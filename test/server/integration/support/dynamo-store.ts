// A DynamoDB store built the way openStore builds one for a configured endpoint (createDynamoClient
// with its production defaults unless told otherwise), handed to startServer, so that the test
// holds the client and can reach its middleware stack.
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  createDynamoClient,
  LOCAL_CREDENTIALS,
  type DynamoClientConfig,
} from '../../../../server/store/dynamodb/client.js';
import { DynamoTaskStore } from '../../../../server/store/dynamodb/dynamo-task-store.js';
import { ensureTable } from '../../../../server/store/dynamodb/table.js';
import type { TaskStore } from '../../../../server/store/task-store.js';
import { loadConfig } from '../../../../server/config.js';
import { startServer, type RunningServer } from '../../../../server/serve.js';

export const TABLE_NAME = 'agent-task-status';

export async function dynamoStore(
  endpoint: string,
  options: Omit<DynamoClientConfig, 'endpoint' | 'credentials'> & { createTable?: boolean } = {},
): Promise<{ client: DynamoDBDocumentClient; store: DynamoTaskStore }> {
  const { createTable = true, ...clientOptions } = options;
  const client = createDynamoClient({ endpoint, credentials: LOCAL_CREDENTIALS, ...clientOptions });
  if (createTable) await ensureTable(client, TABLE_NAME);
  return { client, store: new DynamoTaskStore({ client, tableName: TABLE_NAME, logTtlDays: 30 }) };
}

/** The real server on `store` (left open on close: the test owns it), on a free port. */
export function serveStore(store: TaskStore, options: { realtime?: false } = {}): Promise<RunningServer> {
  return startServer({
    config: loadConfig({
      STORE: 'dynamodb',
      PORT: '0',
      RATE_LIMIT_PER_MINUTE: '0',
      STATIC_DIR: '/nonexistent/agent-task-status-dist',
    }),
    store,
    ...options,
    log: { error: (...args: unknown[]) => console.error(...args), warn: () => {} },
  });
}
