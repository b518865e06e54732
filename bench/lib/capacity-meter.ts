// Between our server and a DynamoDB endpoint (dynalite here): counts each request by action and
// the capacity units DynamoDB would bill for it. It asks for them itself: every request is
// forwarded with `ReturnConsumedCapacity: "TOTAL"` added (dynalite does not check the signature
// the change breaks), and the units are read back from the answer, as DynamoDB computes them
// (item size over 1 KB per write unit, 4 KB per strongly consistent read unit).
import { once } from 'node:events';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The actions that read (their units are read units); the others write. */
const READS = new Set(['GetItem', 'Query', 'Scan', 'BatchGetItem', 'TransactGetItems']);

export interface MeterCounts {
  /** Requests by action (GetItem, PutItem, Query, UpdateItem...). */
  requests: Map<string, number>;
  readUnits: number;
  writeUnits: number;
  /**
   * Writes refused by their condition: DynamoDB bills them (a write unit per KB of the item), but
   * answers them with an error that carries no ConsumedCapacity, so they are counted apart.
   */
  refusedWrites: number;
}

export interface CapacityMeter {
  /** The endpoint to give our server. */
  readonly endpoint: string;
  readonly counts: MeterCounts;
  reset(): void;
  close(): Promise<void>;
}

const empty = (): MeterCounts => ({ requests: new Map(), readUnits: 0, writeUnits: 0, refusedWrites: 0 });

export async function startCapacityMeter(target: string): Promise<CapacityMeter> {
  const upstream = new URL(target);
  let counts = empty();
  const server: Server = createServer(async (req, res) => {
    const action = String(req.headers['x-amz-target'] ?? '?').replace(/^DynamoDB_\d+\./, '');
    counts.requests.set(action, (counts.requests.get(action) ?? 0) + 1);
    const input = JSON.parse((await body(req)) || '{}') as Record<string, unknown>;
    if (action !== 'CreateTable' && action !== 'DescribeTable') input.ReturnConsumedCapacity = 'TOTAL';
    const sent = JSON.stringify(input);
    const forwarded = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, 'content-length': Buffer.byteLength(sent) },
      },
      async (answer) => {
        const text = await body(answer);
        const out = text ? (JSON.parse(text) as Record<string, unknown>) : {};
        // One object per request; a list (one per table) for transactions and batches.
        const consumed = [out.ConsumedCapacity ?? []].flat() as { CapacityUnits?: number }[];
        const units = consumed.reduce((sum, table) => sum + (table.CapacityUnits ?? 0), 0);
        if (READS.has(action)) counts.readUnits += units;
        else counts.writeUnits += units;
        if (/ConditionalCheckFailedException|TransactionCanceledException/.test(String(out.__type ?? '')))
          counts.refusedWrites += 1;
        res.writeHead(answer.statusCode ?? 500, answer.headers);
        res.end(text);
      },
    );
    forwarded.on('error', (error) => {
      res.writeHead(502);
      res.end(String(error));
    });
    forwarded.end(sent);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get counts() {
      return counts;
    },
    reset() {
      counts = empty();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function body(stream: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
