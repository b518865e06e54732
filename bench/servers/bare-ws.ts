// The floor: node:http + `ws` and nothing else. The same routes and messages as ours (hello,
// subscribe → snapshot, update), so the same clients drive it, and the broadcast is the `ws`
// README's: serialize once into a Buffer, `send` it to every subscriber.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { PROTOCOL_VERSION } from '../../protocol/constants.js';
import { serveRequests } from '../lib/ipc.js';
import { BaselineTasks, baselineHttpHandler } from './baseline-tasks.js';
import { processStats } from './process-stats.js';

const HELLO = Buffer.from(JSON.stringify({ type: 'hello', protocol: PROTOCOL_VERSION, heartbeatMs: 25_000 }));

const tasks = new BaselineTasks();
const topics = new Map<string, Set<WebSocket>>();

function publish(taskId: string, update: object): void {
  const members = topics.get(taskId);
  if (!members) return;
  const frame = Buffer.from(JSON.stringify(update));
  for (const ws of members) if (ws.readyState === WebSocket.OPEN) ws.send(frame, { binary: false });
}

const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 64 * 1024 });
wss.on('connection', (ws) => {
  const subscribed = new Set<string>();
  ws.send(HELLO, { binary: false });
  ws.on('message', (data) => {
    let message: { type?: string; tasks?: { taskId?: unknown }[] };
    try {
      message = JSON.parse(String(data));
    } catch {
      return;
    }
    const taskId = message.type === 'subscribe' ? message.tasks?.[0]?.taskId : undefined;
    if (typeof taskId === 'string') {
      const snapshot = tasks.snapshot(taskId);
      if (!snapshot) return;
      let members = topics.get(taskId);
      if (!members) topics.set(taskId, (members = new Set()));
      members.add(ws);
      subscribed.add(taskId);
      ws.send(Buffer.from(JSON.stringify(snapshot)), { binary: false });
    }
  });
  ws.on('close', () => {
    for (const taskId of subscribed) topics.get(taskId)?.delete(ws);
  });
});

const server = createServer(baselineHttpHandler(tasks, publish));
server.on('upgrade', (req, socket, head) =>
  wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req)),
);

serveRequests({
  ...processStats,
  async listen({ port = 0 }: { port?: number } = {}) {
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    return { port: (server.address() as AddressInfo).port };
  },
  async restart() {
    const { port } = server.address() as AddressInfo;
    for (const ws of wss.clients) ws.close(1012, 'server restarting; reconnect');
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    return { port };
  },
});
