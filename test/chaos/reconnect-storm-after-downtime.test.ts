// No reconnect storm when a restarting server is down for a moment (SIGTERM, exit, start: 1-3 s
// here): links whose first jittered retry falls in that moment fail, and their next retries keep
// the restart spread (socket-link.ts #restarting) instead of the normal 0-1 s backoff, which made
// a 100 ms window hold 6-7% of the 1,000 links before.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { busiestWindow } from './support/fake-server-sockets.js';
import { CLIENTS, MAX_SHARE, restart, WINDOW_MS } from './support/storm.js';

describe('reconnects after a restart with downtime (1,000 links, seeded jitter)', () => {
  it('spread when the server is down for 2 s first (a single instance restarting)', () => {
    const { reconnects, attempts, lastAt } = restart(2_000, 2);
    const busiest = busiestWindow(reconnects, WINDOW_MS);
    const busiestAttempts = busiestWindow(attempts, WINDOW_MS);
    console.log(
      `down 2 s: busiest ${WINDOW_MS} ms window ${busiest.count}/${CLIENTS} reconnects (at ${busiest.startsAt} ms), ` +
        `${busiestAttempts.count} of ${attempts.length} attempts; last at ${lastAt} ms`,
    );
    assert.ok(
      busiest.count <= CLIENTS * MAX_SHARE,
      `${busiest.count} of ${CLIENTS} reconnects in the ${WINDOW_MS} ms from ${busiest.startsAt} ms`,
    );
  });
});
