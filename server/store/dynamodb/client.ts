import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export interface DynamoClientConfig {
  /** e.g. `http://127.0.0.1:8000` for DynamoDB Local or dynalite; omitted for AWS itself. */
  endpoint?: string;
  /** Defaults to AWS_REGION, then `us-east-1` (which a local endpoint ignores). Blank counts as unset. */
  region?: string;
  /** Local endpoints take any credentials; omitted: the SDK's default provider chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** SDK attempts per request, retries with backoff included (SDK default 3). */
  maxAttempts?: number;
  /** Give up connecting after this long (ms); the SDK default waits forever. */
  connectionTimeoutMs?: number;
  /** Give up on an answer after this long (ms). */
  requestTimeoutMs?: number;
  /**
   * Skip SigV4 signing: only for the embedded dynalite, in this process on 127.0.0.1, which checks
   * a signature's form, never its value. Signing hashes each body and derives an HMAC chain per
   * request, about 5% of the CPU of a 50-line POST on the embedded store (BENCHMARKS.md).
   */
  unsigned?: boolean;
}

/** What dynalite asks of a request's signature: an AWS4 Authorization header and a date. */
const UNSIGNED: NonNullable<DynamoDBClientConfig['signer']> = {
  sign: async (request) => {
    const { headers } = request as unknown as { headers: Record<string, string> };
    headers.authorization =
      'AWS4-HMAC-SHA256 Credential=local/20000101/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=0';
    headers['x-amz-date'] = '20000101T000000Z';
    return request;
  },
};

/** The credentials a local endpoint (dynalite, DynamoDB Local) accepts. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

/**
 * Credentials for a configured endpoint: a local endpoint (DynamoDB Local, a dynalite server)
 * takes any, so dummy ones unless the environment names real ones; for AWS itself (no endpoint)
 * undefined, i.e. the SDK's default provider chain.
 */
export function credentialsFor(
  endpoint: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): DynamoClientConfig['credentials'] {
  const configured = env.AWS_ACCESS_KEY_ID !== undefined || env.AWS_PROFILE !== undefined;
  return endpoint !== undefined && !configured ? LOCAL_CREDENTIALS : undefined;
}

/**
 * The document client every part of the store uses. Timeouts are bounded so that an unreachable
 * store turns into a 503 within seconds instead of hanging a request.
 */
export function createDynamoClient(config: DynamoClientConfig): DynamoDBDocumentClient {
  const client = new DynamoDBClient({
    endpoint: config.endpoint,
    // Blank counts as unset, as in server/config.ts: `AWS_REGION=` must not leave the SDK without
    // a region ("Region is missing") when the store is local.
    region: config.region || process.env.AWS_REGION?.trim() || 'us-east-1',
    credentials: config.credentials,
    maxAttempts: config.maxAttempts ?? 3,
    ...(config.unsigned ? { signer: UNSIGNED } : {}),
    requestHandler: {
      connectionTimeout: config.connectionTimeoutMs ?? 2_000,
      requestTimeout: config.requestTimeoutMs ?? 5_000,
      // Without this the SDK only logs a warning when requestTimeout passes and keeps waiting:
      // a DynamoDB that accepts connections but never answers would hang requests for good.
      throwOnRequestTimeout: true,
    },
  });
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}
