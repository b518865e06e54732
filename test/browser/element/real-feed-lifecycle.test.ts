// The element with the real connection code (not a fake feed), against a mock server: what a
// host page that mounts and removes panels all day would leak, if anything.
import { PROTOCOL_VERSION } from '../../../protocol/constants.js';
import { expect, oneEvent } from '@open-wc/testing';
import { Server, WebSocket as MockWebSocket } from 'mock-socket';
import type { ClientMessage } from '../../../protocol/ws-messages.js';
import '../../../widget/index.js';
import { lines, page, snapshot } from '../../widget/helpers/fixtures.js';

const ENDPOINT = 'http://status.invalid';
const WS_URL = 'ws://status.invalid/api/agent-tasks/ws';

/** setTimeout/setInterval ids that are neither fired nor cleared. */
function trackTimers() {
  const real = {
    st: window.setTimeout.bind(window),
    ct: window.clearTimeout.bind(window),
    si: window.setInterval.bind(window),
    ci: window.clearInterval.bind(window),
  };
  const { setTimeout, clearTimeout, setInterval, clearInterval } = window;
  const saved = { setTimeout, clearTimeout, setInterval, clearInterval };
  const live = new Set<number>();
  // mock-socket passes extra arguments through setTimeout: forward them.
  window.setTimeout = ((fn: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    const id = real.st(() => {
      live.delete(id);
      fn(...args);
    }, ms);
    live.add(id);
    return id;
  }) as typeof window.setTimeout;
  window.clearTimeout = ((id?: number) => {
    if (id !== undefined) live.delete(id);
    real.ct(id);
  }) as typeof window.clearTimeout;
  window.setInterval = ((fn: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    const id = real.si(() => fn(...args), ms);
    live.add(id);
    return id;
  }) as typeof window.setInterval;
  window.clearInterval = ((id?: number) => {
    if (id !== undefined) live.delete(id);
    real.ci(id);
  }) as typeof window.clearInterval;
  return {
    live,
    restore() {
      Object.assign(window, saved);
    },
  };
}

/**
 * Waits frame by frame (not by timers, which this test counts) until `done`, for at most ~10 s.
 */
async function frames(done: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 600 && !done(); i++) await new Promise((resolve) => requestAnimationFrame(resolve));
  if (!done()) throw new Error(what);
}

describe('<agent-task-status> with the real connection code', () => {
  const realWebSocket = window.WebSocket;
  let server: Server;

  beforeEach(() => {
    server = new Server(WS_URL);
    server.on('connection', (socket) => {
      socket.send(JSON.stringify({ type: 'hello', protocol: PROTOCOL_VERSION, heartbeatMs: 30_000 }));
      socket.on('message', (data) => {
        const message = JSON.parse(String(data)) as ClientMessage;
        if (message.type !== 'subscribe') return;
        for (const { taskId } of message.tasks ?? []) {
          const p = page(lines(1, 3), 3);
          socket.send(JSON.stringify(snapshot({ ...p, task: { ...p.task, id: taskId } }, message.requestId)));
        }
      });
    });
    window.WebSocket = MockWebSocket as unknown as typeof WebSocket;
  });

  afterEach(() => {
    window.WebSocket = realWebSocket;
    server.stop();
  });

  it('goes live, and leaves no open socket or pending timer after mounting and removing 100 times', async () => {
    const timers = trackTimers();
    try {
      for (let i = 0; i < 100; i++) {
        const el = document.createElement('agent-task-status');
        el.setAttribute('endpoint', ENDPOINT);
        el.setAttribute('task-id', `t-${i}`);
        document.body.append(el);
        while (el.connectionState !== 'live') await oneEvent(el, 'agent-task-connection-change');
        expect(el.task?.id).to.equal(`t-${i}`);
        el.remove();
      }
      await frames(() => server.clients().length === 0, 'a socket was left open');
      // Timers of the connection code are cleared on stop; mock-socket's own short delays fire.
      await frames(() => timers.live.size === 0, `${timers.live.size} timer(s) left pending`);
    } finally {
      timers.restore();
    }
  });
});
