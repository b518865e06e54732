import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { hashToken } from '../../../server/http/credentials.js';
import { TokenVerifier } from '../../../server/http/token-verifier.js';

describe('TokenVerifier', () => {
  test('matches a token against its stored hash only, before and after remembering it', () => {
    const tokens = new TokenVerifier();
    const a = hashToken('token-a');
    const b = hashToken('token-b');
    for (let round = 0; round < 2; round += 1) {
      assert.equal(tokens.matches('token-a', a), true);
      assert.equal(tokens.matches('token-a', b), false, 'a remembered token opens no other hash');
      assert.equal(tokens.matches('token-b', a), false);
    }
    assert.equal(tokens.matches('token-b', b), true);
  });

  test('remembers only tokens that matched', () => {
    const tokens = new TokenVerifier();
    const a = hashToken('token-a');
    for (let i = 0; i < 5; i += 1) assert.equal(tokens.matches(`guess-${i}`, a), false);
    assert.equal(tokens.size, 0);
    assert.equal(tokens.matches('token-a', a), true);
    assert.equal(tokens.size, 1);
  });

  test('keeps at most its bound, forgetting the oldest, which still match when they return', () => {
    const tokens = new TokenVerifier(2);
    for (const t of ['t1', 't2', 't3']) assert.equal(tokens.matches(t, hashToken(t)), true);
    assert.equal(tokens.size, 2);
    assert.equal(tokens.matches('t1', hashToken('t1')), true);
    assert.equal(tokens.size, 2);
  });
});
