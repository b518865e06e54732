import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Task } from '../../../protocol/index.js';
import {
  hashToken,
  readBearerToken,
  secretsEqual,
  tokenMatchesHash,
} from '../../../server/http/credentials.js';
import { ifNoneMatchHits, pageEtag } from '../../../server/http/etag.js';
import { canonicalJson, fingerprint } from '../../../server/http/fingerprint.js';
import { newTaskId } from '../../../server/http/task-id.js';

const TASK: Task = {
  id: 't-1',
  agentId: 'a-1',
  title: null,
  phase: 'running',
  progress: null,
  message: null,
  seq: 12,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
};

describe('page ETags', () => {
  test('change with the task seq, the cursor and the limit', () => {
    const base = pageEtag(TASK, { afterSeq: 3, limit: 200 });
    assert.match(base, /^W\/"[^"]+"$/);
    assert.notEqual(pageEtag({ ...TASK, seq: 13 }, { afterSeq: 3, limit: 200 }), base);
    assert.notEqual(pageEtag(TASK, { afterSeq: 4, limit: 200 }), base);
    assert.notEqual(pageEtag(TASK, { beforeSeq: 3, limit: 200 }), base);
    assert.notEqual(pageEtag(TASK, { afterSeq: 3, limit: 100 }), base);
    assert.notEqual(
      pageEtag({ ...TASK, createdAt: '2026-01-02T00:00:00.000Z' }, { afterSeq: 3, limit: 200 }),
      base,
    );
    assert.equal(pageEtag({ ...TASK }, { afterSeq: 3, limit: 200 }), base);
  });

  test('If-None-Match matches weakly, in a list, or with *', () => {
    const etag = 'W/"12-x-a3-l200"';
    assert.equal(ifNoneMatchHits(etag, etag), true);
    assert.equal(ifNoneMatchHits('"12-x-a3-l200"', etag), true);
    assert.equal(ifNoneMatchHits('W/"other", W/"12-x-a3-l200"', etag), true);
    assert.equal(ifNoneMatchHits('*', etag), true);
    assert.equal(ifNoneMatchHits('W/"11-x-a3-l200"', etag), false);
    assert.equal(ifNoneMatchHits(undefined, etag), false);
  });
});

describe('Idempotency-Key fingerprints', () => {
  test('ignore key order at every depth but not values', () => {
    const a = { phase: 'running', logs: [{ level: 'info', message: 'x' }] };
    const b = { logs: [{ message: 'x', level: 'info' }], phase: 'running' };
    assert.equal(canonicalJson(a), canonicalJson(b));
    assert.equal(fingerprint(a), fingerprint(b));
    assert.notEqual(fingerprint(a), fingerprint({ ...a, phase: 'completed' }));
    assert.notEqual(
      fingerprint({ logs: ['a', 'b'] }),
      fingerprint({ logs: ['b', 'a'] }),
      'array order counts',
    );
  });
});

describe('credentials', () => {
  test('reads a bearer token, and says when it is missing or malformed', () => {
    assert.equal(readBearerToken('Bearer abc-DEF_123'), 'abc-DEF_123');
    assert.equal(readBearerToken('bearer abc'), 'abc');
    assert.equal(readBearerToken(undefined), 'missing');
    assert.equal(readBearerToken(''), 'missing');
    assert.equal(readBearerToken('Basic abc'), 'malformed');
    assert.equal(readBearerToken('Bearer a b'), 'malformed');
    assert.equal(readBearerToken(`Bearer ${'a'.repeat(600)}`), 'malformed');
  });

  test('matches a token against its stored hash only', () => {
    const hash = hashToken('token-1');
    assert.equal(tokenMatchesHash('token-1', hash), true);
    assert.equal(tokenMatchesHash('token-2', hash), false);
    assert.equal(tokenMatchesHash('token-1', 'not-hex'), false);
  });

  test('compares secrets of different lengths without throwing', () => {
    assert.equal(secretsEqual('abc', 'abc'), true);
    assert.equal(secretsEqual('abc', 'abcd'), false);
  });
});

test('generated task ids are valid, distinct and t_-prefixed', () => {
  const ids = new Set(Array.from({ length: 1000 }, () => newTaskId()));
  assert.equal(ids.size, 1000);
  for (const id of ids) assert.match(id, /^t_[a-z2-7]{16}$/);
});
