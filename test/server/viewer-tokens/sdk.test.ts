import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mintViewerToken } from '../../../sdk/viewer-token.js';
import { KEYS, T0 } from './tokens.js';

const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());

describe('mintViewerToken (sdk/viewer-token.ts)', () => {
  test('claims the audience, the scope, and 900 s from the clock it is given', () => {
    const token = mintViewerToken(KEYS, { agents: ['agent-7'] }, () => T0 + 1_500);
    assert.deepEqual(claimsOf(token), {
      aud: 'agent-task-status',
      iat: T0 / 1000 + 1,
      exp: T0 / 1000 + 1 + 900,
      agents: ['agent-7'],
    });
  });

  test('refuses a scope the server would refuse, before signing anything', () => {
    const mint = (scope: Parameters<typeof mintViewerToken>[1]) => () =>
      mintViewerToken(KEYS, scope, () => T0);
    assert.throws(mint({}), /name at least one task or agent/);
    assert.throws(mint({ tasks: ['ok', 'not ok'] }), /tasks\[1\] is not a valid id/);
    assert.throws(
      mint({ tasks: Array.from({ length: 257 }, (_, i) => `t${i}`) }),
      /at most 256 tasks and agents in all \(got 257\)/,
    );
    assert.throws(mint({ tasks: ['t'], ttlSeconds: 9 }), /ttlSeconds must be an integer 10-86400, got 9/);
    assert.throws(mint({ tasks: ['t'], ttlSeconds: 86_401 }), RangeError);
    assert.throws(mint({ tasks: ['t'], ttlSeconds: 1.5 }), RangeError);
  });

  test('refuses a scope whose token would be over 16 KiB', () => {
    const ids = Array.from({ length: 200 }, (_, i) => `task-${i}-${'x'.repeat(60)}`);
    assert.throws(() => mintViewerToken(KEYS, { tasks: ids }, () => T0), /over the 16384 a server accepts/);
  });

  test('refuses a keys value that is not VIEWER_TOKEN_KEYS, without echoing a secret', () => {
    assert.throws(() => mintViewerToken('', { tasks: ['t'] }), /names no key/);
    assert.throws(
      () => mintViewerToken('k1:short-secret', { tasks: ['t'] }),
      (error: Error) =>
        /the secret of kid "k1" is not one/.test(error.message) && !error.message.includes('short'),
    );
  });
});
