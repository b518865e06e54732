import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GRANTED_IDS_MAX, GrantSet } from '../../../server/viewer-tokens/grant-set.js';
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
  test('with no token, everything is unauthorized', () => {
    assert.equal(new GrantSet().coverTask('t-1', 'agent-1', T0), 'unauthorized');
    assert.equal(new GrantSet().coverAgent('agent-1', T0), 'unauthorized');
  });

  test('covered until the latest expiry of the live tokens covering it, by task or by agent', () => {
    const set = new GrantSet();
    set.add(grant(T0 + 1_000, { tasks: ['t-1'] }));
    set.add(grant(T0 + 5_000, { agents: ['agent-1'] }));
    set.add(grant(T0 + 9_000, { tasks: ['t-2'] }));
    assert.equal(set.coverTask('t-1', 'agent-1', T0), T0 + 5_000);
    assert.equal(set.coverTask('t-1', 'agent-1', T0 + 4_999), T0 + 5_000);
    assert.equal(set.coverTask('t-1', undefined, T0), T0 + 1_000, 'an unknown task: only by its own name');
    assert.equal(set.coverAgent('agent-1', T0), T0 + 5_000);
  });

  test('only expired tokens covering it: token_expired; none covering it: forbidden', () => {
    const set = new GrantSet();
    set.add(grant(T0 + 1_000, { tasks: ['t-1'] }));
    set.add(grant(T0 + 9_000, { tasks: ['t-2'] }));
    assert.equal(set.coverTask('t-1', 'agent-1', T0 + 1_000), 'token_expired');
    assert.equal(set.coverTask('t-3', 'agent-3', T0), 'forbidden');
    assert.equal(set.coverAgent('agent-3', T0), 'forbidden');
  });

  test('an admin grant covers everything, for as long as it holds', () => {
    const set = new GrantSet();
    set.add(ADMIN_GRANT);
    assert.equal(set.coverTask('anything', undefined, T0), Number.POSITIVE_INFINITY);
    assert.equal(set.coverAgent('anyone', T0), Number.POSITIVE_INFINITY);
  });

  test('a dashboard of 2,000 panels, each with a token of its own, is covered panel by panel', () => {
    const set = new GrantSet();
    for (let i = 0; i < 2_000; i++) set.add(grant(T0 + 60_000, { tasks: [`t-${i}`] }));
    for (let i = 0; i < 2_000; i++) assert.equal(set.coverTask(`t-${i}`, 'agent-1', T0), T0 + 60_000);
  });

  test('tasks and agents share one bound: an agent granted after 4,096 tasks is kept, the oldest task goes', () => {
    const set = new GrantSet();
    for (let i = 0; i < GRANTED_IDS_MAX; i++) set.add(grant(T0 + 10_000, { tasks: [`t-${i}`] }));
    set.add(grant(T0 + 10_000, { agents: ['agent-new'] }));
    assert.equal(set.coverAgent('agent-new', T0), T0 + 10_000);
    assert.equal(set.namesAgents, true);
    assert.equal(set.coverTask('t-0', undefined, T0), 'forbidden');
  });

  test(`keeps ${GRANTED_IDS_MAX} ids; one more forgets the one granted longest ago`, () => {
    const set = new GrantSet();
    for (let i = 0; i < GRANTED_IDS_MAX; i++) set.add(grant(T0 + 10_000, { tasks: [`t-${i}`] }));
    // Granted again: now the most recent, so not the one forgotten.
    set.add(grant(T0 + 20_000, { tasks: ['t-0'] }));
    set.add(grant(T0 + 1_000, { tasks: ['late'] }));
    assert.equal(set.size, GRANTED_IDS_MAX);
    assert.equal(set.coverTask('t-0', undefined, T0), T0 + 20_000);
    assert.equal(set.coverTask('t-1', undefined, T0), 'forbidden', 't-1 was granted longest ago');
    assert.equal(set.coverTask('late', undefined, T0), T0 + 1_000);
  });
});
