// The embedded store's floor (issue 15): how many conditional puts a second dynalite itself takes
// through the same SDK client our store uses, with dynalite in this process as the server runs it
// (on a temporary DATA_DIR) and nothing else running, 16 in flight like wrk's 16 connections.
// A status POST costs one such put and one update at best, so the embedded store's POSTs/s
// against this rate is how close our write path is to the store underneath.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { createDynamoClient, LOCAL_CREDENTIALS } from '../server/store/dynamodb/client.js';
import { startEmbeddedDynalite } from '../server/store/dynamodb/embedded-dynalite.js';
import { packLines } from '../server/store/dynamodb/items.js';
import { ensureTable } from '../server/store/dynamodb/table.js';

const IN_FLIGHT = 16;
const TABLE = 'floor';

/**
 * Conditional puts per second of items shaped like a status POST's batch item, for `seconds`;
 * with `lineCount`, each item also holds that many log lines like the bench's 50-line POST.
 */
export async function dynaliteConditionalPutRate(seconds: number, lineCount = 0): Promise<number> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ats-floor-'));
  const dynalite = await startEmbeddedDynalite({ dataDir: path.join(dir, 'dynalite') });
  const client = createDynamoClient({ endpoint: dynalite.endpoint, credentials: LOCAL_CREDENTIALS });
  try {
    await ensureTable(client, TABLE);
    const task = {
      id: 't',
      agentId: 'agent',
      title: null,
      phase: 'running',
      progress: 42,
      message: 'compiling module 12 of 40',
      createdAt: new Date(0).toISOString(),
      updatedAt: new Date(0).toISOString(),
    };
    const at = new Date(0).toISOString();
    // Packed as the store packs them (items.ts): one string.
    const [lines] = packLines(
      Array.from({ length: lineCount }, (_, i) => ({
        at,
        level: 'info' as const,
        message: `line ${i}: npm warn deprecated glob@7.2.3: Glob versions prior to v9 are no longer supported`,
      })),
    );
    let seq = 0;
    let done = 0;
    const until = Date.now() + seconds * 1000;
    // Each worker writes its own task's slots in order, as a task's writes take turns.
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async (_, worker) => {
        for (let slot = 1; Date.now() < until; slot++) {
          seq += 1;
          await client.send(
            new PutCommand({
              TableName: TABLE,
              Item: {
                pk: `TASK#w${worker}`,
                sk: `LOG#${String(slot).padStart(12, '0')}`,
                fromSeq: slot,
                toSeq: slot,
                task: { ...task, seq: slot },
                lineCount,
                ...(lines ? { packed: lines.packed } : {}),
                ttl: 2_000_000_000,
                writtenAt: seq,
              },
              ConditionExpression: 'attribute_not_exists(pk)',
            }),
          );
          done += 1;
        }
      }),
    );
    return done / seconds;
  } finally {
    client.destroy();
    await dynalite.close();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1]?.endsWith('dynalite-floor.ts')) {
  console.log(`${(await dynaliteConditionalPutRate(5)).toFixed(0)} conditional puts/s`);
  console.log(`${(await dynaliteConditionalPutRate(5, 50)).toFixed(0)} conditional puts/s of 50-line items`);
}
