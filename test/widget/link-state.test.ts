import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  connectionState,
  POLL_FAILURES_BEFORE_OFFLINE,
  type LinkFacts,
} from '../../widget/connection/link-state.js';
import type { ConnectionState } from '../../widget/connection/task-feed-types.js';

type Facts = Partial<LinkFacts>;

const NOTHING_KNOWN: LinkFacts = {
  browserOffline: false,
  fellBack: false,
  pollFailures: 0,
  socketUp: false,
  lost: false,
};

const state = (facts: Facts): ConnectionState => connectionState({ ...NOTHING_KNOWN, ...facts });

/** What a panel knows, and the state it shows: the whole derivation in one table. */
const TABLE: [string, Facts, ConnectionState][] = [
  ['a socket panel that has just started', {}, 'connecting'],
  ['a panel whose subscription the socket answered', { socketUp: true }, 'live'],
  ['an answered panel whose socket dropped since', { lost: true }, 'reconnecting'],
  ['a panel that polls (mode="polling", no WebSocket, a fallback)', { fellBack: true }, 'polling'],
  ['a polling panel whose socket dropped too', { fellBack: true, lost: true }, 'polling'],
  [
    'a polling panel just below the failure threshold',
    { fellBack: true, pollFailures: POLL_FAILURES_BEFORE_OFFLINE - 1 },
    'polling',
  ],
  [
    'a polling panel at the failure threshold',
    { fellBack: true, pollFailures: POLL_FAILURES_BEFORE_OFFLINE },
    'offline',
  ],
  [
    'a live panel whose one-off Refresh failed (it does not poll)',
    { socketUp: true, pollFailures: POLL_FAILURES_BEFORE_OFFLINE },
    'live',
  ],
  ['a panel while the browser is offline', { browserOffline: true, socketUp: true }, 'offline'],
  ['a polling panel while the browser is offline', { browserOffline: true, fellBack: true }, 'offline'],
];

describe('connectionState', () => {
  for (const [name, facts, expected] of TABLE) {
    it(`shows ${expected} for ${name}`, () => {
      assert.equal(state(facts), expected);
    });
  }

  it('reaches every state', () => {
    const reached = new Set(TABLE.map(([, , s]) => s));
    assert.deepEqual([...reached].sort(), ['connecting', 'live', 'offline', 'polling', 'reconnecting']);
  });
});
