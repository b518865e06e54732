// KNOWN FAILING (issue 5, no reconnect storm), kept out of `npm test` on purpose (the file name
// does not end in .test.ts). Run: node --import tsx --test test/chaos/known-failing/reconnect-storm-after-downtime.known-failing.ts
//
// A single server restarting is down for a moment (SIGTERM, exit, start: 1-3 s here). Links
// whose first jittered retry (spread over 5 s after the 1012) falls in that moment fail, and
// their next retry uses the normal backoff (0-1 s), not the restart spread: they all come back
// within about a second of the server, and a 100 ms window holds 6-7% of the 1,000 links.
// Cause: widget/connection/socket-link.ts #down picks the restart spread only when *this*
// close code is 1012/1013; the refused attempt after it closes with 1006.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { busiestWindow } from '../support/fake-server-sockets.js';
import { CLIENTS, MAX_SHARE, restart, WINDOW_MS } from '../support/storm.js';

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
