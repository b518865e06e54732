// Issue 5, no reconnect storm: 1,000 real SocketLinks (widget/connection/socket-link.ts) on one
// fake clock, with a seeded random source, connected to a simulated server that restarts (every
// socket closed with 1012). Their reconnects must spread out: no 100 ms window may hold more than
// 5% of them. No real sockets and no real time, so it runs in well under a second.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { busiestWindow } from './support/fake-server-sockets.js';
import { CLIENTS, MAX_SHARE, restart, WINDOW_MS } from './support/storm.js';

describe('reconnects after a restart (1,000 links, seeded jitter)', () => {
  it('spread over the restart window when the server is back at once (no 100 ms window over 5%)', () => {
    const { reconnects, lastAt } = restart(0, 1);
    const busiest = busiestWindow(reconnects, WINDOW_MS);
    console.log(
      `back at once: busiest ${WINDOW_MS} ms window ${busiest.count}/${CLIENTS}, last at ${lastAt} ms`,
    );
    assert.ok(
      busiest.count <= CLIENTS * MAX_SHARE,
      `${busiest.count} of ${CLIENTS} reconnects in the ${WINDOW_MS} ms from ${busiest.startsAt} ms`,
    );
    assert.ok(lastAt <= 5_100, `the last link came back after ${lastAt} ms`);
  });
});
