import { resolve } from 'node:path';
import { z } from 'zod';
import { parseViewerTokenKeys } from '../protocol/index.js';
import { isAddressOrBlock } from './http/client-address.js';
import { hostAllowlist, parseHostEntry } from './http/hosts.js';
import { parseOriginPattern } from './http/origins.js';
import type { RealtimeConfig } from './realtime/realtime.js';

/** Where tasks live: DynamoDB (embedded dynalite unless pointed elsewhere) or this process's memory. */
export const STORE_KINDS = ['dynamodb', 'memory'] as const;
export type StoreKind = (typeof STORE_KINDS)[number];

function integer(min: number, max: number) {
  const rule = `must be an integer ${min}-${max}`;
  return z
    .string()
    .regex(/^\d+$/, rule)
    .transform(Number)
    .pipe(z.number().int().min(min, rule).max(max, rule));
}

const path = z
  .string()
  .min(1, 'must be a directory path')
  .transform((dir) => resolve(dir));

const originList = z
  .string()
  .transform((list) =>
    list
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry !== ''),
  )
  .refine((entries) => entries.every((entry) => parseOriginPattern(entry) !== null), {
    message:
      'must be a comma-separated list of origins such as https://app.example.com, http://localhost:* (any port) or *',
  });

/** `0` or `1`, read as a boolean. */
const flag = z.enum(['0', '1'], { error: 'must be 0 or 1' }).transform((value) => value === '1');

/** A secret sent as a bearer token; unset: null. */
const bearerSecret = z
  .string()
  .regex(
    /^[A-Za-z0-9\-._~+/]{16,512}=*$/,
    'must be 16-512 characters of A-Z a-z 0-9 - . _ ~ + / (usable as a bearer token)',
  )
  .optional()
  .transform((token) => token ?? null);

/** VIEWER_TOKEN_KEYS: `kid:secret,...`, parsed (protocol/viewer-token.ts); unset: null. */
const viewerTokenKeys = z
  .string()
  .optional()
  .transform((list, ctx) => {
    if (list === undefined) return null;
    try {
      return parseViewerTokenKeys(list);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message, input: list });
      return z.NEVER;
    }
  });

const hostList = z
  .string()
  .optional()
  .transform((list) =>
    (list ?? '')
      .split(',')
      .map((entry) => entry.trim().toLowerCase())
      .filter((entry) => entry !== ''),
  )
  .refine((entries) => entries.every((entry) => parseHostEntry(entry) !== null), {
    message: 'must be a comma-separated list of host names without port, such as status.example.com, or *',
  });

interface EnvVar<S extends z.ZodType> {
  name: string;
  /** Used when the variable is unset or blank; undefined: no default (the schema decides). */
  default: string | undefined;
  meaning: string;
  schema: S;
  /** Never echo the value in an error message. */
  secret?: boolean;
}

function envVar<S extends z.ZodType>(spec: EnvVar<S>): EnvVar<S> {
  return spec;
}

/** Every setting: its variable, default and meaning. `--help` and the README table follow this. */
export const ENV_VARS = {
  port: envVar({
    name: 'PORT',
    default: '8787',
    meaning: 'TCP port to listen on (0 picks a free one)',
    schema: integer(0, 65_535),
  }),
  host: envVar({
    name: 'HOST',
    default: '127.0.0.1',
    meaning: 'address to listen on; loopback by default, 0.0.0.0 (or ::) to accept other machines',
    schema: z
      .string()
      .regex(/^(\[[0-9A-Fa-f:.]+\]|[0-9A-Za-z.:-]+)$/, 'must be a host name or IP address')
      .transform((host) => host.replace(/^\[(.*)\]$/, '$1')),
  }),
  adminToken: envVar({
    name: 'ADMIN_TOKEN',
    default: undefined,
    meaning: 'bearer token required to create tasks; unset: anyone who can reach the server may create tasks',
    secret: true,
    schema: bearerSecret,
  }),
  allowedOrigins: envVar({
    name: 'ALLOWED_ORIGINS',
    default: 'http://localhost:*,http://127.0.0.1:*,http://[::1]:*',
    meaning:
      'origins whose pages may read the API, load the widget and open the WebSocket (comma list; `host:*` = any port; `*` = any origin); same-origin pages are always allowed',
    schema: originList,
  }),
  // Protected mode (server/protected-mode.ts): beyond loopback, what is open must be said aloud.
  allowOpenCreation: envVar({
    name: 'ALLOW_OPEN_CREATION',
    default: '0',
    meaning:
      '1: accept listening beyond loopback while ADMIN_TOKEN is unset, so that anyone who can reach the server may create tasks; without it such a start is refused',
    schema: flag,
  }),
  publicReads: envVar({
    name: 'PUBLIC_READS',
    default: '0',
    meaning:
      "1: accept listening beyond loopback although every task, its logs and its agent's active task can be read by anyone who can reach the server; without it such a start is refused, unless VIEWER_TOKEN_KEYS is set (reads then need a token)",
    schema: flag,
  }),
  viewerTokenKeys: envVar({
    name: 'VIEWER_TOKEN_KEYS',
    default: undefined,
    meaning:
      'comma list of kid:secret (kid 1-32 characters of A-Z a-z 0-9 _ -, secret 32-512 bearer characters); set: every read (status, logs, active-task, WebSocket) needs a viewer token signed with one of these keys, or the admin token; the first key signs tokens minted at POST /api/viewer-tokens, all of them verify (rotation); unset: reads are public',
    secret: true,
    schema: viewerTokenKeys,
  }),
  allowedHosts: envVar({
    name: 'ALLOWED_HOSTS',
    default: undefined,
    meaning:
      'host names the server answers to in the Host header (DNS rebinding defence), besides IP addresses, localhost, the HOST name and the hosts of ALLOWED_ORIGINS, which are always accepted; comma list; `*` turns the check off',
    schema: hostList,
  }),
  metricsToken: envVar({
    name: 'METRICS_TOKEN',
    default: undefined,
    meaning:
      'bearer token that /metrics requires from every client; unset: /metrics answers only loopback clients that did not come through a proxy',
    secret: true,
    schema: bearerSecret,
  }),
  bodyLimitBytes: envVar({
    name: 'BODY_LIMIT_BYTES',
    default: String(256 * 1024),
    meaning: 'largest accepted request body, in bytes (413 beyond)',
    schema: integer(1024, 100 * 1024 * 1024),
  }),
  rateLimitPerMinute: envVar({
    name: 'RATE_LIMIT_PER_MINUTE',
    default: '600',
    meaning: 'status posts allowed per agent token per minute, also the burst (429 beyond); 0 turns it off',
    schema: integer(0, 1_000_000),
  }),
  createsPerMinute: envVar({
    name: 'CREATES_PER_MINUTE',
    default: '600',
    meaning:
      'task creations allowed per client address per minute, also the burst (429 beyond); 0 turns it off',
    schema: integer(0, 1_000_000),
  }),
  readsPerMinute: envVar({
    name: 'READS_PER_MINUTE',
    // A browser polls each task once for all its panels and tabs: 500 panels at the 5 s default
    // are 6,000 a minute from one address, and an office behind one NAT is many browsers.
    default: '60000',
    meaning:
      'GETs of status, logs and active-task allowed per client address per minute, also the burst (429 beyond); 0 turns it off',
    schema: integer(0, 10_000_000),
  }),
  badTokensPerMinute: envVar({
    name: 'BAD_TOKENS_PER_MINUTE',
    default: '30',
    meaning:
      'refused admin, agent or viewer tokens (an expired viewer token is not counted) allowed per client address per minute, also the burst; past it every token check from that address answers 429 first; 0 turns it off',
    schema: integer(0, 1_000_000),
  }),
  trustedProxies: envVar({
    name: 'TRUSTED_PROXIES',
    default: undefined,
    meaning:
      'comma list of proxy IPs or CIDRs (10.0.0.0/8) whose X-Forwarded-For names the client for the per-address limits; unset: the socket peer is the client',
    schema: z
      .string()
      .optional()
      .transform((list) =>
        (list ?? '')
          .split(',')
          .map((entry) => entry.trim())
          .filter((entry) => entry !== ''),
      )
      .refine((entries) => entries.every(isAddressOrBlock), {
        message: 'must be a comma-separated list of IP addresses or CIDR blocks such as 10.0.0.0/8',
      }),
  }),
  heartbeatMs: envVar({
    name: 'HEARTBEAT_MS',
    default: '25000',
    meaning:
      'WebSocket heartbeat in ms: the server pings every interval and drops a peer that missed the previous ping; the widget pings a server silent for an interval and reconnects if it stays silent for another. Keep it under the idle timeout of proxies on the way (often 60 s)',
    schema: integer(100, 600_000),
  }),
  wsMaxPayloadBytes: envVar({
    name: 'WS_MAX_PAYLOAD_BYTES',
    default: String(64 * 1024),
    meaning: 'largest WebSocket message accepted from a client, in bytes',
    schema: integer(1024, 16 * 1024 * 1024),
  }),
  wsMaxBufferedBytes: envVar({
    name: 'WS_MAX_BUFFERED_BYTES',
    default: String(1024 * 1024),
    meaning: 'unsent bytes a slow WebSocket client may accumulate before it is disconnected',
    schema: integer(64 * 1024, 1024 * 1024 * 1024),
  }),
  wsMaxSubscriptions: envVar({
    name: 'WS_MAX_SUBSCRIPTIONS',
    default: '2000',
    meaning:
      'tasks and agents one WebSocket may follow at once: one socket serves every tab of a browser, so size it for the panels of all its dashboards; past it a task is refused alone (too_many_subscriptions) and its panel polls',
    schema: integer(1, 100_000),
  }),
  store: envVar({
    name: 'STORE',
    default: 'dynamodb',
    meaning: `where tasks are kept: ${STORE_KINDS.join(' | ')} (dynamodb with no endpoint or region: dynalite embedded in this process, data under DATA_DIR; memory: lost on restart)`,
    schema: z.enum(STORE_KINDS, { error: `must be one of: ${STORE_KINDS.join(', ')}` }),
  }),
  dynamodbEndpoint: envVar({
    name: 'DYNAMODB_ENDPOINT',
    default: undefined,
    meaning: 'DynamoDB endpoint URL (DynamoDB Local, a dynalite server); the table is created when missing',
    schema: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  }),
  awsRegion: envVar({
    name: 'AWS_REGION',
    default: undefined,
    meaning:
      'AWS region of a real DynamoDB table (credentials from the usual AWS sources); the table must exist',
    schema: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as eu-west-1')
      .optional(),
  }),
  redisUrl: envVar({
    name: 'REDIS_URL',
    default: undefined,
    meaning:
      'one Redis (a single node or a primary; not Redis Cluster yet) for several instances behind a load balancer (`redis://host:6379`, `rediss://` for TLS): every write reaches the sockets of every instance, and the rate limits are one budget for all of them; unset: one instance, in-process bus',
    secret: true,
    schema: z.url({ protocol: /^rediss?$/, error: 'must be a redis:// or rediss:// URL' }).optional(),
  }),
  drainDelayMs: envVar({
    name: 'DRAIN_DELAY_MS',
    default: '0',
    meaning:
      "on SIGTERM, how long the server answers /readyz with 503 (draining) while still serving, before it closes its WebSockets (1012) and stops: set it to two or three of your load balancer's health-check intervals, so it stops sending new connections here first",
    schema: integer(0, 600_000),
  }),
  tableName: envVar({
    name: 'TABLE_NAME',
    default: 'agent-task-status',
    meaning: 'DynamoDB table name (see infra/dynamodb-table.json)',
    schema: z.string().regex(/^[A-Za-z0-9_.-]{3,255}$/, 'must be 3-255 characters of A-Z a-z 0-9 _ . -'),
  }),
  dataDir: envVar({
    name: 'DATA_DIR',
    default: './.data',
    meaning: 'directory for on-disk data of stores that keep any',
    schema: path,
  }),
  logTtlDays: envVar({
    name: 'LOG_TTL_DAYS',
    default: '30',
    meaning: 'days a log line is kept by stores that expire them',
    schema: integer(1, 3650),
  }),
  headFreshMs: envVar({
    name: 'HEAD_FRESH_MS',
    default: '5000',
    meaning:
      'DynamoDB store, several instances only (leave it for one): how long a head this instance wrote or read answers reads and agent-token checks without asking DynamoDB. So an agent token replaced through another instance still works here for up to this long, and a write through another instance shows this late in polls of a task no socket here follows (a followed task hears of it at once). `0`: every read asks',
    schema: integer(0, 60_000),
  }),
  dynamodbPackedLines: envVar({
    name: 'DYNAMODB_PACKED_LINES',
    default: '0',
    meaning:
      "DynamoDB at an endpoint or on AWS, 1: store a POST's log lines as one packed string, not a list of maps (a fifth less CPU per 50-line POST, about the same bytes). Every version from this one on reads both; earlier ones read only the maps, so turn it on once no instance runs one, and do not roll back past this version after. The embedded dynalite always packs",
    schema: flag,
  }),
  dynamodbTransactions: envVar({
    name: 'DYNAMODB_TRANSACTIONS',
    default: '0',
    meaning:
      'DynamoDB store, 1: a POST with an Idempotency-Key writes its log item and its key in one TransactWriteItems: 2 requests instead of 4 and no read before the write, but, for a POST of up to 1 KB, 5 write units instead of 3 write units and a read unit (a transaction bills each item twice). Needs an endpoint with transactions (AWS, DynamoDB Local; not dynalite): without them the server does not start',
    schema: flag,
  }),
  taskLogMaxLines: envVar({
    name: 'TASK_LOG_MAX_LINES',
    default: '100000',
    meaning:
      'log lines one task may hold over its life; a write past it is refused whole (413 log_quota_exceeded), status-only writes still pass',
    schema: integer(1, 1_000_000_000),
  }),
  taskLogMaxBytes: envVar({
    name: 'TASK_LOG_MAX_BYTES',
    default: String(64 * 1024 * 1024),
    meaning: 'bytes of log text (UTF-8) one task may hold over its life; as TASK_LOG_MAX_LINES',
    schema: integer(1024, 1024 ** 4),
  }),
  demo: envVar({
    name: 'DEMO',
    default: '0',
    meaning:
      '1: run two simulated agents and mount the demo chaos controls under /demo/api (npm start sets it); refused beyond loopback (protected mode)',
    schema: flag,
  }),
  staticDir: envVar({
    name: 'STATIC_DIR',
    default: './dist',
    meaning: 'built widget and demo to serve (npm run build writes them)',
    schema: path,
  }),
};

type Specs = typeof ENV_VARS;
export type Config = { readonly [K in keyof Specs]: z.output<Specs[K]['schema']> };

/** Every problem found in the environment, one line each. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((problem) => `  ${problem}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Reads the settings from `env` (blank counts as unset); throws ConfigError listing every problem. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const problems: string[] = [];
  const config: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(ENV_VARS) as [string, EnvVar<z.ZodType>][]) {
    const given = env[spec.name]?.trim();
    const raw = given === undefined || given === '' ? spec.default : given;
    const result = spec.schema.safeParse(raw);
    if (result.success) {
      config[key] = result.data;
    } else {
      const what = result.error.issues[0]?.message ?? 'is invalid';
      const got = spec.secret ? `got ${raw?.length ?? 0} characters` : `got ${JSON.stringify(raw)}`;
      problems.push(`${spec.name} ${what}, ${got}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config as Config;
}

/** The realtime hub's share of the settings. */
export function realtimeConfig(config: Config): RealtimeConfig {
  return {
    allowedOrigins: config.allowedOrigins,
    allowedHosts: hostAllowlist(config),
    heartbeatMs: config.heartbeatMs,
    maxPayloadBytes: config.wsMaxPayloadBytes,
    maxBufferedBytes: config.wsMaxBufferedBytes,
    maxSubscriptionsPerSocket: config.wsMaxSubscriptions,
    viewerTokenKeys: config.viewerTokenKeys,
    adminToken: config.adminToken,
  };
}
