import {
  CreateTableCommand,
  DescribeTableCommand,
  UpdateTimeToLiveCommand,
  type CreateTableCommandInput,
  type UpdateTimeToLiveCommandInput,
} from '@aws-sdk/client-dynamodb';
import { TransactGetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { BY_AGENT_INDEX } from './keys.js';

export const DEFAULT_TABLE_NAME = 'agent-task-status';

/** The attribute DynamoDB's TTL deletes by (epoch seconds). */
export const TTL_ATTRIBUTE = 'ttl';

/**
 * The table, written once: `ensureTable` creates it, and infra/dynamodb-table.json is this same
 * object as a file (a test keeps the two equal). On-demand billing: the load is bursty per task.
 */
export function tableDefinition(tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'sk', AttributeType: 'S' },
      { AttributeName: 'agentKey', AttributeType: 'S' },
      { AttributeName: 'createdKey', AttributeType: 'S' },
    ],
    KeySchema: [
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: BY_AGENT_INDEX,
        KeySchema: [
          { AttributeName: 'agentKey', KeyType: 'HASH' },
          { AttributeName: 'createdKey', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'KEYS_ONLY' },
      },
    ],
  };
}

/** For `aws dynamodb update-time-to-live --cli-input-json` (infra/dynamodb-ttl.json). */
export function timeToLiveSpecification(tableName: string): UpdateTimeToLiveCommandInput {
  return {
    TableName: tableName,
    TimeToLiveSpecification: { Enabled: true, AttributeName: TTL_ATTRIBUTE },
  };
}

/**
 * The files under infra/ for people who manage the table themselves, rendered from the
 * definitions above (`node --import tsx scripts/create-table.ts --write-infra`; a test compares).
 */
export function infraFiles(tableName = DEFAULT_TABLE_NAME): Record<string, unknown> {
  return {
    'infra/dynamodb-table.json': tableDefinition(tableName),
    'infra/dynamodb-ttl.json': timeToLiveSpecification(tableName),
  };
}

/** Whether the table exists (any status); other errors propagate. */
export async function tableExists(client: DynamoDBDocumentClient, tableName: string): Promise<boolean> {
  try {
    await client.send(new DescribeTableCommand({ TableName: tableName }));
    return true;
  } catch (error) {
    if ((error as { name?: string }).name === 'ResourceNotFoundException') return false;
    throw error;
  }
}

/**
 * Creates the table when it is missing and waits until it is ACTIVE. A concurrent creator
 * (another instance starting at the same moment) is fine: ResourceInUse means it exists.
 */
export async function ensureTable(client: DynamoDBDocumentClient, tableName: string): Promise<void> {
  if (!(await tableExists(client, tableName))) {
    try {
      await client.send(new CreateTableCommand(tableDefinition(tableName)));
    } catch (error) {
      if ((error as { name?: string }).name !== 'ResourceInUseException') throw error;
    }
  }
  await waitUntilActive(client, tableName);
}

/**
 * Turns on DynamoDB TTL for log lines. dynalite has no TTL (UnknownOperation / validation error):
 * that is reported as false, and reads filter expired items in any case.
 */
export async function enableTimeToLive(client: DynamoDBDocumentClient, tableName: string): Promise<boolean> {
  try {
    await client.send(new UpdateTimeToLiveCommand(timeToLiveSpecification(tableName)));
    return true;
  } catch (error) {
    const name = (error as { name?: string }).name ?? '';
    // Already enabled on AWS answers with a ValidationException saying so.
    if (name === 'ValidationException' && /already enabled/i.test(String((error as Error).message)))
      return true;
    if (name === 'UnknownOperationException' || name === 'ValidationException') return false;
    throw error;
  }
}

/**
 * Whether the endpoint has transactions (DynamoDB and DynamoDB Local do, dynalite does not): one
 * TransactGetItems of a key that never exists (2 read units, once at start).
 */
export async function supportsTransactions(
  client: DynamoDBDocumentClient,
  tableName: string,
): Promise<boolean> {
  try {
    await client.send(
      new TransactGetCommand({
        TransactItems: [{ Get: { TableName: tableName, Key: { pk: 'PING', sk: 'PING' } } }],
      }),
    );
    return true;
  } catch (error) {
    if ((error as { name?: string }).name === 'UnknownOperationException') return false;
    throw error;
  }
}

async function waitUntilActive(client: DynamoDBDocumentClient, tableName: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    const indexesActive = (Table?.GlobalSecondaryIndexes ?? []).every((i) => i.IndexStatus === 'ACTIVE');
    if (Table?.TableStatus === 'ACTIVE' && indexesActive) return;
    if (Date.now() > deadline) throw new Error(`table ${tableName} did not become ACTIVE within 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
