// Faults injected into a DynamoDB client through its middleware stack, inside the SDK's retry loop,
// so the SDK's own deserializer, retry strategy and error classes see them as the real thing.
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

type Stack = DynamoDBDocumentClient['middlewareStack'];
type AnyMiddleware = Parameters<Stack['add']>[0];

interface Injected {
  /** Requests the fault answered so far. */
  readonly hits: number;
  /** Takes the fault out of the stack: later requests go through untouched. */
  remove(): void;
}

let injected = 0;

/** `PutItemCommand` → `PutItem`: the operation, as a DynamoDB request names it. */
function operationOf(context: { commandName?: string }): string {
  return (context.commandName ?? '').replace(/Command$/, '');
}

/**
 * DynamoDB's answer when a table or partition is over its throughput: HTTP 400 with
 * `ProvisionedThroughputExceededException`, for the `operations` listed (all when omitted). Placed
 * after the deserializer, so the SDK parses it, classifies it as throttling and retries it.
 */
export function injectThrottling(client: DynamoDBDocumentClient, operations?: readonly string[]): Injected {
  const name = `test-throttling-${++injected}`;
  let hits = 0;
  const body = JSON.stringify({
    __type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException',
    message:
      'The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.',
  });
  const middleware = ((next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) =>
    async (args: unknown) => {
      if (operations && !operations.includes(operationOf(context))) return next(args);
      hits++;
      return {
        response: {
          statusCode: 400,
          reason: 'Bad Request',
          headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': name },
          body: Buffer.from(body),
        },
      };
    }) as unknown as AnyMiddleware;
  client.middlewareStack.add(middleware, { step: 'deserialize', priority: 'low', name });
  return {
    get hits() {
      return hits;
    },
    remove: () => void client.middlewareStack.remove(name),
  };
}

/**
 * The answer to the next `operation` request is lost after DynamoDB applied it (a connection reset
 * on the way back), once: the SDK sees ECONNRESET and sends the same request again.
 */
export function loseNextAnswer(client: DynamoDBDocumentClient, operation: string): Injected {
  const name = `test-lost-answer-${++injected}`;
  let hits = 0;
  const middleware = ((next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) =>
    async (args: unknown) => {
      const output = await next(args);
      if (hits === 0 && operationOf(context) === operation) {
        hits++;
        throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
      }
      return output;
    }) as unknown as AnyMiddleware;
  client.middlewareStack.add(middleware, { step: 'deserialize', priority: 'high', name });
  return {
    get hits() {
      return hits;
    },
    remove: () => void client.middlewareStack.remove(name),
  };
}
