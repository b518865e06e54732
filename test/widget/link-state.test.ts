import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  POLL_FAILURES_BEFORE_OFFLINE,
  StateHolder,
  transition,
  type LinkEvent,
  type StateChange,
} from '../../widget/connection/link-state.js';
import { ConnectionState } from '../../widget/connection/task-feed-types.js';

const STATES = Object.values(ConnectionState);
type Row = Record<ConnectionState, ConnectionState>;

/** Every event, with the state it leads to from each state: the whole machine in one table. */
const TABLE: [string, LinkEvent, Row][] = [
  [
    'start with a socket',
    { type: 'start', socket: true },
    {
      connecting: 'connecting',
      live: 'connecting',
      reconnecting: 'connecting',
      polling: 'connecting',
      offline: 'connecting',
    },
  ],
  [
    'start without a socket',
    { type: 'start', socket: false },
    {
      connecting: 'polling',
      live: 'polling',
      reconnecting: 'polling',
      polling: 'polling',
      offline: 'polling',
    },
  ],
  [
    'snapshot-received',
    { type: 'snapshot-received' },
    { connecting: 'live', live: 'live', reconnecting: 'live', polling: 'live', offline: 'live' },
  ],
  [
    'socket-lost',
    { type: 'socket-lost' },
    {
      connecting: 'reconnecting',
      live: 'reconnecting',
      reconnecting: 'reconnecting',
      polling: 'polling',
      offline: 'offline',
    },
  ],
  ...(['no-websocket', 'upgrade-refused', 'attempts-exhausted', 'snapshot-timeout'] as const).map(
    (reason): [string, LinkEvent, Row] => [
      `fallback (${reason})`,
      { type: 'fallback', reason },
      {
        connecting: 'polling',
        live: 'polling',
        reconnecting: 'polling',
        polling: 'polling',
        offline: 'offline',
      },
    ],
  ),
  [
    'poll-ok',
    { type: 'poll-ok' },
    {
      connecting: 'connecting',
      live: 'live',
      reconnecting: 'reconnecting',
      polling: 'polling',
      offline: 'polling',
    },
  ],
  [
    'poll-failed below the threshold',
    { type: 'poll-failed', consecutiveFailures: POLL_FAILURES_BEFORE_OFFLINE - 1 },
    {
      connecting: 'connecting',
      live: 'live',
      reconnecting: 'reconnecting',
      polling: 'polling',
      offline: 'offline',
    },
  ],
  [
    'poll-failed at the threshold',
    { type: 'poll-failed', consecutiveFailures: POLL_FAILURES_BEFORE_OFFLINE },
    {
      connecting: 'connecting',
      live: 'live',
      reconnecting: 'reconnecting',
      polling: 'offline',
      offline: 'offline',
    },
  ],
  [
    'browser-offline',
    { type: 'browser-offline' },
    {
      connecting: 'offline',
      live: 'offline',
      reconnecting: 'offline',
      polling: 'offline',
      offline: 'offline',
    },
  ],
  [
    'browser-online with the socket still up',
    { type: 'browser-online', socketUp: true, fellBack: false },
    {
      connecting: 'connecting',
      live: 'live',
      reconnecting: 'reconnecting',
      polling: 'polling',
      offline: 'live',
    },
  ],
  [
    'browser-online while falling back to polling',
    { type: 'browser-online', socketUp: false, fellBack: true },
    {
      connecting: 'connecting',
      live: 'live',
      reconnecting: 'reconnecting',
      polling: 'polling',
      offline: 'polling',
    },
  ],
  [
    'browser-online with the socket down',
    { type: 'browser-online', socketUp: false, fellBack: false },
    {
      connecting: 'connecting',
      live: 'live',
      reconnecting: 'reconnecting',
      polling: 'polling',
      offline: 'reconnecting',
    },
  ],
];

describe('transition', () => {
  for (const [name, event, row] of TABLE) {
    it(`on ${name}: ${STATES.map((s) => `${s}→${row[s]}`).join(', ')}`, () => {
      for (const state of STATES) {
        assert.equal(transition(state, event), row[state], `${state} on ${name}`);
      }
    });
  }

  it('covers every event type in the table', () => {
    const types = new Set(TABLE.map(([, event]) => event.type));
    const all: LinkEvent['type'][] = [
      'start',
      'snapshot-received',
      'socket-lost',
      'fallback',
      'poll-ok',
      'poll-failed',
      'browser-offline',
      'browser-online',
    ];
    assert.deepEqual([...types].sort(), [...all].sort());
  });
});

describe('StateHolder', () => {
  it('notifies {from, to} on a change and stays silent when the state is unchanged', () => {
    const changes: StateChange<ConnectionState>[] = [];
    const holder = new StateHolder<ConnectionState>('connecting', (c) => changes.push(c));
    assert.equal(holder.set('live'), true);
    assert.equal(holder.set('live'), false);
    holder.set('reconnecting');
    assert.deepEqual(changes, [
      { from: 'connecting', to: 'live' },
      { from: 'live', to: 'reconnecting' },
    ]);
    assert.equal(holder.value, 'reconnecting');
  });
});
