// What users pick instead: Socket.IO 4 with rooms, attached to node:http as its docs show. The
// same routes and the same update object; `io.to(room).emit` encodes once per broadcast.
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { serveRequests } from '../lib/ipc.js';
import { BaselineTasks, baselineHttpHandler } from './baseline-tasks.js';
import { processStats } from './process-stats.js';

const tasks = new BaselineTasks();
let io: Server;
let server: HttpServer;

async function start(port: number): Promise<number> {
  server = createServer(baselineHttpHandler(tasks, (taskId, update) => io.to(taskId).emit('update', update)));
  io = new Server(server, { serveClient: false, transports: ['websocket'], perMessageDeflate: false });
  io.on('connection', (socket) => {
    socket.on('subscribe', (message: { taskId?: string }) => {
      const taskId = message?.taskId;
      if (typeof taskId !== 'string') return;
      const snapshot = tasks.snapshot(taskId);
      if (!snapshot) return;
      void socket.join(taskId);
      socket.emit('snapshot', snapshot);
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

serveRequests({
  ...processStats,
  async listen() {
    return { port: await start(0) };
  },
  async restart() {
    const { port } = server.address() as AddressInfo;
    // io.close() disconnects every client and closes its HTTP server; a new pair takes the port.
    await new Promise<void>((resolve) => {
      void io.close(() => resolve());
      server.closeAllConnections();
    });
    return { port: await start(port) };
  },
});
