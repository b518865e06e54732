import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError, ENV_VARS, loadConfig, realtimeConfig } from '../../server/config.js';

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  assert.fail('expected a ConfigError');
}

describe('loadConfig', () => {
  test('an empty environment gives the documented defaults', () => {
    assert.deepEqual(loadConfig({}), {
      port: 8787,
      host: '127.0.0.1',
      adminToken: null,
      allowedOrigins: ['http://localhost:*', 'http://127.0.0.1:*', 'http://[::1]:*'],
      allowOpenCreation: false,
      publicReads: false,
      viewerTokenKeys: null,
      allowedHosts: [],
      metricsToken: null,
      bodyLimitBytes: 262_144,
      rateLimitPerMinute: 600,
      createsPerMinute: 600,
      readsPerMinute: 60000,
      redisUrl: undefined,
      drainDelayMs: 0,
      badTokensPerMinute: 30,
      trustedProxies: [],
      heartbeatMs: 25_000,
      wsMaxPayloadBytes: 65_536,
      wsMaxBufferedBytes: 1_048_576,
      wsMaxSubscriptions: 2000,
      store: 'dynamodb',
      dynamodbEndpoint: undefined,
      awsRegion: undefined,
      tableName: 'agent-task-status',
      dataDir: resolve('.data'),
      logTtlDays: 30,
      headFreshMs: 5000,
      dynamodbPackedLines: false,
      dynamodbTransactions: false,
      taskLogMaxLines: 100_000,
      taskLogMaxBytes: 67_108_864,
      demo: false,
      staticDir: resolve('dist'),
    });
  });

  test('reads every variable', () => {
    const config = loadConfig({
      PORT: '9000',
      HOST: '0.0.0.0',
      ADMIN_TOKEN: 'a-long-enough-admin-token',
      ALLOWED_ORIGINS: ' https://a.example.com , http://localhost:* ',
      BODY_LIMIT_BYTES: '4096',
      RATE_LIMIT_PER_MINUTE: '0',
      HEARTBEAT_MS: '1000',
      WS_MAX_PAYLOAD_BYTES: '2048',
      WS_MAX_BUFFERED_BYTES: '65536',
      WS_MAX_SUBSCRIPTIONS: '5',
      STORE: 'memory',
      DATA_DIR: '/var/lib/ats',
      LOG_TTL_DAYS: '7',
      STATIC_DIR: '/srv/ats',
      DYNAMODB_ENDPOINT: 'http://127.0.0.1:8000',
      AWS_REGION: 'eu-west-1',
      TABLE_NAME: 'ats-prod',
      DEMO: '1',
    });
    assert.equal(config.port, 9000);
    assert.equal(config.dynamodbEndpoint, 'http://127.0.0.1:8000');
    assert.equal(config.awsRegion, 'eu-west-1');
    assert.equal(config.tableName, 'ats-prod');
    assert.equal(config.demo, true);
    assert.equal(config.host, '0.0.0.0');
    assert.equal(config.adminToken, 'a-long-enough-admin-token');
    assert.deepEqual(config.allowedOrigins, ['https://a.example.com', 'http://localhost:*']);
    assert.equal(config.bodyLimitBytes, 4096);
    assert.equal(config.rateLimitPerMinute, 0);
    assert.equal(config.heartbeatMs, 1000);
    assert.equal(config.dataDir, '/var/lib/ats');
    assert.equal(config.logTtlDays, 7);
    assert.equal(config.staticDir, '/srv/ats');
  });

  test('reads the abuse limits and the trusted proxies, and names a bad proxy entry', () => {
    const config = loadConfig({
      CREATES_PER_MINUTE: '5',
      READS_PER_MINUTE: '0',
      BAD_TOKENS_PER_MINUTE: '3',
      TRUSTED_PROXIES: ' 10.0.0.0/8 , 127.0.0.1, ::1 ,fd00::/8',
      TASK_LOG_MAX_LINES: '10',
      TASK_LOG_MAX_BYTES: '2048',
    });
    assert.deepEqual([config.createsPerMinute, config.readsPerMinute, config.badTokensPerMinute], [5, 0, 3]);
    assert.deepEqual(config.trustedProxies, ['10.0.0.0/8', '127.0.0.1', '::1', 'fd00::/8']);
    assert.deepEqual([config.taskLogMaxLines, config.taskLogMaxBytes], [10, 2048]);
    for (const bad of ['proxy.internal', '10.0.0.0/33', '10.0.0.1/8/8', '::1/129']) {
      assert.match(
        problemsOf({ TRUSTED_PROXIES: bad })[0]!,
        /^TRUSTED_PROXIES must be a comma-separated list of IP/,
      );
    }
  });

  test('a blank variable counts as unset', () => {
    assert.equal(loadConfig({ PORT: '  ', ADMIN_TOKEN: '' }).port, 8787);
    assert.equal(loadConfig({ ADMIN_TOKEN: '' }).adminToken, null);
  });

  test('a bad port is one clear line naming the value', () => {
    assert.deepEqual(problemsOf({ PORT: 'abc' }), ['PORT must be an integer 0-65535, got "abc"']);
    assert.deepEqual(problemsOf({ PORT: '70000' }), ['PORT must be an integer 0-65535, got "70000"']);
    assert.deepEqual(problemsOf({ PORT: '-1' }), ['PORT must be an integer 0-65535, got "-1"']);
  });

  test('every bad value is listed, in one error', () => {
    const problems = problemsOf({
      PORT: 'x',
      HEARTBEAT_MS: '1.5',
      STORE: 'postgres',
      ALLOWED_ORIGINS: 'https://ok.example.com,ftp://files.example.com',
    });
    assert.equal(problems.length, 4);
    assert.match(
      problems.find((p) => p.startsWith('STORE'))!,
      /must be one of: dynamodb, memory, got "postgres"/,
    );
    assert.match(
      problems.find((p) => p.startsWith('ALLOWED_ORIGINS'))!,
      /ftp:\/\/files/,
    );
    assert.match(
      problems.find((p) => p.startsWith('HEARTBEAT_MS'))!,
      /integer/,
    );
  });

  test('store settings name what is wrong with them', () => {
    const problems = problemsOf({
      DYNAMODB_ENDPOINT: 'localhost:8000',
      AWS_REGION: 'Europe',
      TABLE_NAME: 'x',
      DEMO: 'yes',
    });
    assert.equal(problems.length, 4);
    assert.match(
      problems.find((p) => p.startsWith('DYNAMODB_ENDPOINT'))!,
      /http\(s\) URL/,
    );
    assert.match(
      problems.find((p) => p.startsWith('AWS_REGION'))!,
      /eu-west-1/,
    );
    assert.match(
      problems.find((p) => p.startsWith('TABLE_NAME'))!,
      /3-255/,
    );
    assert.match(
      problems.find((p) => p.startsWith('DEMO'))!,
      /0 or 1/,
    );
  });

  test('an invalid admin token is reported without echoing it', () => {
    const [problem] = problemsOf({ ADMIN_TOKEN: 'short secret' });
    assert.match(problem!, /^ADMIN_TOKEN must be 16-512 characters/);
    assert.match(problem!, /got 12 characters$/);
    assert.equal(problem!.includes('secret'), false);
  });

  test('reads the access settings: open creation, public reads, allowed hosts, the metrics token', () => {
    const config = loadConfig({
      ALLOW_OPEN_CREATION: '1',
      PUBLIC_READS: '1',
      ALLOWED_HOSTS: ' Status.Example.com , status.internal ',
      METRICS_TOKEN: 'a-long-enough-metrics-token',
    });
    assert.equal(config.allowOpenCreation, true);
    assert.equal(config.publicReads, true);
    assert.deepEqual(config.allowedHosts, ['status.example.com', 'status.internal']);
    assert.equal(config.metricsToken, 'a-long-enough-metrics-token');
  });

  test('a bad access setting is named, and the metrics token is not echoed', () => {
    const problems = problemsOf({
      PUBLIC_READS: 'yes',
      ALLOWED_HOSTS: 'status.example.com:443',
      METRICS_TOKEN: 'short secret',
    });
    assert.equal(problems.length, 3);
    const problemOf = (name: string) => problems.find((p) => p.startsWith(`${name} `)) ?? '';
    assert.match(problemOf('PUBLIC_READS'), /0 or 1/);
    assert.match(problemOf('ALLOWED_HOSTS'), /without port/);
    assert.equal(
      problemOf('METRICS_TOKEN'),
      'METRICS_TOKEN must be 16-512 characters of A-Z a-z 0-9 - . _ ~ + / (usable as a bearer token), got 12 characters',
    );
  });

  test('reads VIEWER_TOKEN_KEYS as keys in order, the first (the signing key) first', () => {
    const config = loadConfig({
      VIEWER_TOKEN_KEYS: ` new:${'n'.repeat(32)} , old_1:${'o'.repeat(40)}== `,
    });
    assert.deepEqual(config.viewerTokenKeys, [
      { kid: 'new', secret: 'n'.repeat(32) },
      { kid: 'old_1', secret: `${'o'.repeat(40)}==` },
    ]);
  });

  test('a bad VIEWER_TOKEN_KEYS is named by entry or kid, never by secret', () => {
    const secret = 'a-secret-that-is-long-enough-for-a-key';
    const cases: [string, RegExp][] = [
      [secret, /entry 1 has no valid kid/],
      [`k1:${secret},:${secret}`, /entry 2 has no valid kid/],
      [`${'k'.repeat(33)}:${secret}`, /entry 1 has no valid kid/],
      [`k1:${secret.slice(0, 31)}`, /the secret of kid "k1" is not one/],
      [`k1:${secret} with spaces`, /the secret of kid "k1" is not one/],
      [`k1:${secret},k1:${secret}x`, /kid "k1" appears twice/],
      [',', /names no key/],
    ];
    for (const [value, problem] of cases) {
      const [line] = problemsOf({ VIEWER_TOKEN_KEYS: value });
      assert.match(line!, /^VIEWER_TOKEN_KEYS must be a comma list of kid:secret/, value);
      assert.match(line!, problem, value);
      assert.match(line!, new RegExp(`got ${value.length} characters$`), value);
      assert.equal(line!.includes(secret.slice(0, 20)), false, 'the secret is not echoed');
    }
  });

  test('the ConfigError message lists the problems one per line', () => {
    assert.throws(
      () => loadConfig({ PORT: 'x', LOG_TTL_DAYS: '0' }),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.message ===
          'invalid configuration:\n  PORT must be an integer 0-65535, got "x"\n  LOG_TTL_DAYS must be an integer 1-3650, got "0"',
    );
  });

  test('every variable has a meaning for --help', () => {
    for (const spec of Object.values(ENV_VARS)) assert.ok(spec.meaning.length > 10, spec.name);
  });
});

test('realtimeConfig maps the WebSocket settings', () => {
  const config = loadConfig({
    ALLOWED_ORIGINS: 'https://a.example.com',
    HEARTBEAT_MS: '5000',
    WS_MAX_PAYLOAD_BYTES: '2048',
    WS_MAX_BUFFERED_BYTES: '100000',
    WS_MAX_SUBSCRIPTIONS: '3',
  });
  assert.deepEqual(realtimeConfig(config), {
    allowedOrigins: ['https://a.example.com'],
    allowedHosts: new Set(['127.0.0.1', 'a.example.com']),
    heartbeatMs: 5000,
    maxPayloadBytes: 2048,
    maxBufferedBytes: 100_000,
    maxSubscriptionsPerSocket: 3,
    viewerTokenKeys: null,
    adminToken: null,
  });
});
