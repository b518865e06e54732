import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { combine, type Member } from '../../widget/connection/interest.js';
import type { Listener } from '../../widget/connection/link.js';

const ignore = (): void => {};

/** A panel of this tab whose merge stands at `cursor`. */
function panel(cursor: number | null, intervalMs = 1_000): Member {
  return { kind: 'panel', listener: { cursor: () => cursor, on: ignore }, intervalMs };
}

/** Another tab's interest, as the leader holds it. */
function tab(cursor: number | null, hidden = false, intervalMs = 1_000, token: string | null = null): Member {
  return { kind: 'tab', cursor, hidden, intervalMs, token };
}

describe('combine', () => {
  it('asks from the lowest cursor of its members', () => {
    assert.equal(combine([tab(12), panel(7), tab(30)], false).cursor, 7);
    assert.equal(combine([panel(40), tab(9), panel(15)], false).cursor, 9);
  });

  it('asks for the tail when any member has no cursor, wherever it stands in the list', () => {
    assert.equal(combine([tab(null), panel(4)], false).cursor, null);
    assert.equal(combine([panel(4), tab(null), tab(8)], false).cursor, null);
    assert.equal(combine([tab(3), tab(5), panel(null)], false).cursor, null);
  });

  it("reads a panel's cursor from its listener each time it combines", () => {
    let at: number | null = 5;
    const member: Member = { kind: 'panel', listener: { cursor: () => at, on: ignore }, intervalMs: 1_000 };
    assert.equal(combine([member, tab(20)], false).cursor, 5);
    at = 11;
    assert.equal(combine([member, tab(20)], false).cursor, 11);
    at = null;
    assert.equal(combine([member, tab(20)], false).cursor, null);
  });

  it('counts a panel whose listener has no cursor as one that needs the tail', () => {
    const listener: Listener = { on: ignore };
    assert.equal(combine([{ kind: 'panel', listener, intervalMs: 1_000 }, tab(6)], false).cursor, null);
  });

  it("takes a panel's visibility from its tab's hidden flag", () => {
    assert.equal(combine([panel(1), panel(2)], true).hidden, true);
    assert.equal(combine([panel(1), panel(2)], false).hidden, false);
  });

  it("takes another tab's visibility from that tab's own flag, not this tab's", () => {
    assert.equal(combine([tab(1, true), tab(2, true)], false).hidden, true);
    assert.equal(combine([tab(1, false)], true).hidden, false);
  });

  it('is hidden only when every member is hidden', () => {
    assert.equal(combine([panel(1), tab(2, true)], true).hidden, true);
    assert.equal(combine([panel(1), tab(2, false)], true).hidden, false, 'a visible tab keeps it visible');
    assert.equal(combine([tab(2, true), panel(1)], false).hidden, false, 'a visible panel keeps it visible');
    assert.equal(combine([tab(1, true), tab(2, false), tab(3, true)], true).hidden, false);
  });

  it('polls at the shortest interval any member asks', () => {
    assert.equal(
      combine([tab(1, false, 5_000), panel(1, 2_000), tab(1, false, 3_000)], false).intervalMs,
      2_000,
    );
    assert.equal(combine([panel(1, 4_000), tab(1, true, 500)], false).intervalMs, 500);
  });

  it('combines no members into a tail, hidden, with no interval and no token at all', () => {
    assert.deepEqual(combine([], false), { cursor: null, hidden: true, intervalMs: Infinity, token: null });
  });

  it("carries a member's viewer token, a panel's or another tab's: one origin is one viewer", () => {
    const withToken = (token: string | null): Member => ({
      kind: 'panel',
      listener: { token: () => token, on: ignore },
      intervalMs: 1_000,
    });
    assert.equal(combine([withToken(null), withToken('jwt-a')], false).token, 'jwt-a');
    assert.equal(combine([tab(1, false, 1_000, 'jwt-b'), withToken(null)], false).token, 'jwt-b');
    assert.equal(combine([panel(3), tab(2)], false).token, null);
  });

  it('takes its members from any iterable, such as a Map of them', () => {
    const members = new Map<string, Member>([
      ['a', tab(8, true, 3_000)],
      ['b', tab(6, true, 9_000)],
    ]);
    assert.deepEqual(combine(members.values(), false), {
      cursor: 6,
      hidden: true,
      intervalMs: 3_000,
      token: null,
    });
  });
});
