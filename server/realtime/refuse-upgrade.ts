import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ErrorBody } from '../../protocol/index.js';

/**
 * Errors on a refused socket (the peer resets it while the answer is in flight) are expected.
 * Node removes its own 'error' listener before emitting 'upgrade', so without one an ECONNRESET
 * would be an uncaught exception.
 */
function destroyOnError(this: Duplex): void {
  this.destroy();
}

/**
 * Answers an upgrade request with a JSON error, written by hand: after Node's 'upgrade' event
 * there is no ServerResponse, only the raw socket. A complete HTTP/1.1 response (status line,
 * Content-Type, Content-Length, Connection: close), the same `{ error }` body as the HTTP routes,
 * then the socket is closed once the answer is flushed.
 */
export function refuseUpgrade(
  socket: Duplex,
  status: number,
  body: ErrorBody,
  headers: Readonly<Record<string, string>> = {},
): void {
  socket.on('error', destroyOnError);
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const json = JSON.stringify(body);
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n`;
  head += 'Content-Type: application/json\r\n';
  head += `Content-Length: ${Buffer.byteLength(json)}\r\n`;
  head += 'Connection: close\r\n';
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  // 'finish': everything is handed to the kernel; a client that keeps its side open is not waited for.
  socket.once('finish', socket.destroy);
  socket.end(`${head}\r\n${json}`);
}
