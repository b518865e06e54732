// 1,000 real socket links (widget/connection/socket-link.ts, the socket under each tab's TabLink)
// on one fake clock with a seeded random source, against a simulated server that restarts: what
// the reconnect-storm tests measure. They follow no task, as the simulated server answers no
// subscribe.
import assert from 'node:assert/strict';
import { socketLink } from '../../../widget/connection/socket-link.js';
import { FakeClock } from '../../widget/helpers/fake-clock.js';
import { mulberry32 } from '../../widget/helpers/prng.js';
import { SimServer } from './fake-server-sockets.js';

export const CLIENTS = 1_000;
export const WINDOW_MS = 100;
export const MAX_SHARE = 0.05;

/**
 * Connects CLIENTS links, lets them settle for a minute, then restarts the server: every socket
 * is closed with 1012 and the server refuses connections for `downMs`. Returns when every link
 * is connected again, with the time of each link's successful reconnect.
 */
export function restart(downMs: number, seed: number) {
  const clock = new FakeClock();
  const server = new SimServer(clock);
  const random = mulberry32(seed);
  const links = Array.from({ length: CLIENTS }, () =>
    socketLink({
      url: 'ws://status.test/api/agent-tasks/ws',
      WebSocket: server.WebSocket,
      clock,
      random,
      status: () => {},
      cursor: () => null,
      on: () => {},
    }),
  );
  for (const link of links) link.open();
  clock.advance(60_000);
  assert.equal(server.open.length, CLIENTS, 'every link is connected before the restart');

  const restartAt = clock.now();
  const before = server.sockets.length;
  server.goDown(1012);
  clock.advance(downMs);
  server.comeUp();
  const deadline = restartAt + 120_000;
  while (server.open.length < CLIENTS && clock.now() < deadline) clock.advance(10);
  assert.equal(server.open.length, CLIENTS, `only ${server.open.length} links came back within 2 minutes`);

  const reconnects = server.sockets
    .slice(before)
    .filter((socket) => socket.readyState === 1)
    .map((socket) => socket.openedAt - restartAt);
  const attempts = server.attempts.slice(before).map((a) => a.at - restartAt);
  for (const link of links) link.close();
  return { reconnects, attempts, lastAt: Math.max(...reconnects) };
}
