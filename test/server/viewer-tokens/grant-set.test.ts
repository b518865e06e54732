import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GRANTS_PER_SOCKET_MAX, GrantSet } from '../../../server/viewer-tokens/grant-set.js';
import {
  ADMIN_GRANT,
  coversAgent,
  coversTask,
  type ViewerGrant,
} from '../../../server/viewer-tokens/scope.js';
import { T0 } from './tokens.js';

const grant = (expiresAt: number, scope: { tasks?: string[]; agents?: string[] } = {}): ViewerGrant => ({
  all: false,
  tasks: new Set(scope.tasks),
  agents: new Set(scope.agents),
  expiresAt,
});

describe('scope', () => {
  test('a token covers a task it names, or a task of an agent it names', () => {
    const g = grant(T0, { tasks: ['t-1'], agents: ['agent-7'] });
    assert.equal(coversTask(g, 't-1', 'agent-1'), true);
    assert.equal(coversTask(g, 't-1', undefined), true, 'named: covered even when it does not exist');
    assert.equal(coversTask(g, 't-2', 'agent-7'), true);
    assert.equal(coversTask(g, 't-2', 'agent-1'), false);
    assert.equal(coversTask(g, 't-2', undefined), false, 'not named, not found: not covered');
  });

  test('a token covers an agent only when it names it; the admin grant covers all', () => {
    assert.equal(coversAgent(grant(T0, { tasks: ['agent-7'] }), 'agent-7'), false);
    assert.equal(coversAgent(grant(T0, { agents: ['agent-7'] }), 'agent-7'), true);
    assert.equal(coversAgent(ADMIN_GRANT, 'anyone'), true);
    assert.equal(coversTask(ADMIN_GRANT, 'anything', undefined), true);
  });
});

describe('GrantSet', () => {
  const onT1 = (g: ViewerGrant) => coversTask(g, 't-1', 'agent-1');

  test('with no token, everything is unauthorized', () => {
    assert.equal(new GrantSet().coverage(onT1, T0), 'unauthorized');
  });

  test('covered until the latest expiry of the live tokens covering it', () => {
    const set = new GrantSet();
    set.add(grant(T0 + 1_000, { tasks: ['t-1'] }));
    set.add(grant(T0 + 5_000, { agents: ['agent-1'] }));
    set.add(grant(T0 + 9_000, { tasks: ['t-2'] }));
    assert.equal(set.coverage(onT1, T0), T0 + 5_000);
    assert.equal(set.coverage(onT1, T0 + 4_999), T0 + 5_000);
  });

  test('only expired tokens covering it: token_expired; none covering it: forbidden', () => {
    const set = new GrantSet();
    set.add(grant(T0 + 1_000, { tasks: ['t-1'] }));
    set.add(grant(T0 + 9_000, { tasks: ['t-2'] }));
    assert.equal(set.coverage(onT1, T0 + 1_000), 'token_expired');
    assert.equal(
      set.coverage((g) => coversTask(g, 't-3', 'agent-3'), T0),
      'forbidden',
    );
  });

  test(`keeps ${GRANTS_PER_SOCKET_MAX} tokens; one more evicts the kept one that expires first`, () => {
    const set = new GrantSet();
    for (let i = 0; i < GRANTS_PER_SOCKET_MAX; i++) set.add(grant(T0 + 10_000 + i, { tasks: [`t-${i}`] }));
    set.add(grant(T0 + 1_000, { tasks: ['late'] }));
    assert.equal(set.size, GRANTS_PER_SOCKET_MAX);
    assert.equal(
      set.coverage((g) => coversTask(g, 't-0', undefined), T0),
      'forbidden',
      't-0 expired first',
    );
    assert.equal(
      set.coverage((g) => coversTask(g, 't-1', undefined), T0),
      T0 + 10_001,
    );
    assert.equal(
      set.coverage((g) => coversTask(g, 'late', undefined), T0),
      T0 + 1_000,
    );
  });
});
