// One subscriber on a raw `ws` client, for every server alike: the client-side cost per message
// is the same (no JSON.parse of updates, just finding the agent's timestamp), so differences
// measured are the servers'. Ours and the bare `ws` baseline speak our protocol (hello,
// subscribe → snapshot, update); Socket.IO is spoken at the Engine.IO v4 framing level.
import { WebSocket } from 'ws';

export type ServerKind = 'ours' | 'bare-ws' | 'socketio';

const MARK = Buffer.from('bench t=');
const QUOTE = 0x22;

/** The agent's send time (performance.now() in this process) from an update frame, or NaN. */
export function sentAt(frame: Buffer): number {
  const at = frame.indexOf(MARK);
  if (at < 0) return NaN;
  const start = at + MARK.length;
  const end = frame.indexOf(QUOTE, start);
  return Number(frame.toString('latin1', start, end));
}

export interface Deliveries {
  count: number;
  /** Latencies in ms, while `recording`. */
  latencies: Float64Array;
  recorded: number;
  recording: boolean;
  lastAt: number;
}

export function newDeliveries(capacity: number): Deliveries {
  return { count: 0, latencies: new Float64Array(capacity), recorded: 0, recording: false, lastAt: 0 };
}

export function wsUrl(kind: ServerKind, port: number): string {
  return kind === 'socketio'
    ? `ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`
    : `ws://127.0.0.1:${port}/api/agent-tasks/ws`;
}

/** Opens, subscribes to `taskId`, resolves once the snapshot is in; then counts updates into `into`. */
export function subscribe(
  kind: ServerKind,
  port: number,
  taskId: string,
  into: Deliveries,
): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(kind, port), {
      perMessageDeflate: false,
      origin: 'http://localhost:5173',
    });
    let live = false;
    const onLive = (frame: Buffer) => {
      into.count += 1;
      const now = performance.now();
      into.lastAt = now;
      if (into.recording && into.recorded < into.latencies.length) {
        const sent = sentAt(frame);
        if (sent === sent) into.latencies[into.recorded++] = now - sent;
      }
    };
    ws.on('error', reject);
    ws.on('close', (code) => {
      if (!live) reject(new Error(`closed ${code} before the snapshot`));
    });
    if (kind === 'socketio') {
      ws.on('message', (data: Buffer) => {
        // Engine.IO: "2" ping (answer "3"), "4…" a message; Socket.IO inside: "0" connect, "2" event.
        const type = data[0];
        if (type === 0x32 /* 2 ping */) return ws.send('3');
        if (live) {
          if (data[1] === 0x32) onLive(data);
          return;
        }
        if (type === 0x30 /* 0 open */) return ws.send('40');
        if (data[1] === 0x30 /* 40 connected */)
          return ws.send(`42${JSON.stringify(['subscribe', { taskId }])}`);
        if (data.toString('latin1', 0, 14) === '42["snapshot",') {
          live = true;
          resolve(ws);
        }
      });
    } else {
      ws.on('message', (data: Buffer) => {
        if (live) return onLive(data);
        const message = JSON.parse(String(data)) as { type: string; taskId?: string };
        if (message.type === 'hello') {
          ws.send(JSON.stringify({ type: 'subscribe', requestId: 1, tasks: [{ taskId }] }));
        } else if (message.type === 'snapshot') {
          live = true;
          resolve(ws);
        } else if (message.type === 'error') reject(new Error(String(data)));
      });
    }
  });
}
