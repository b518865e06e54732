// Creates the DynamoDB table (and turns on TTL for log lines) where the server will look for it:
//   DYNAMODB_ENDPOINT=http://127.0.0.1:8000 node --import tsx scripts/create-table.ts   (DynamoDB Local, dynalite)
//   AWS_REGION=eu-west-1 TABLE_NAME=agent-task-status node --import tsx scripts/create-table.ts  (AWS)
// With --write-infra it rewrites infra/*.json from server/store/dynamodb/table.ts instead.
import { writeFile } from 'node:fs/promises';
import { createDynamoClient, credentialsFor } from '../server/store/dynamodb/client.js';
import {
  DEFAULT_TABLE_NAME,
  enableTimeToLive,
  ensureTable,
  infraFiles,
} from '../server/store/dynamodb/table.js';

if (process.argv.includes('--write-infra')) {
  for (const [file, content] of Object.entries(infraFiles())) {
    await writeFile(new URL(`../${file}`, import.meta.url), `${JSON.stringify(content, null, 2)}\n`);
    console.log(`wrote ${file}`);
  }
} else {
  const endpoint = process.env.DYNAMODB_ENDPOINT || undefined;
  const region = process.env.AWS_REGION || undefined;
  const tableName = process.env.TABLE_NAME || DEFAULT_TABLE_NAME;
  if (!endpoint && !region) {
    console.error('Set DYNAMODB_ENDPOINT (a local DynamoDB) or AWS_REGION (AWS) to say where.');
    process.exit(2);
  }
  const client = createDynamoClient({ endpoint, region, credentials: credentialsFor(endpoint) });
  try {
    await ensureTable(client, tableName);
    const ttl = await enableTimeToLive(client, tableName);
    console.log(
      `table ${tableName} is ACTIVE at ${endpoint ?? `AWS ${region}`}; TTL on "ttl": ${ttl ? 'enabled' : 'not supported here (reads filter expired lines anyway)'}`,
    );
  } finally {
    client.destroy();
  }
}
