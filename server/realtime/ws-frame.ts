import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';

/**
 * A broadcast framed once: the complete WebSocket frame (RFC 6455 §5.2: FIN, text opcode, no
 * mask from a server, 7/16/64-bit length) with the message encoded straight into it, so each
 * subscriber costs one socket write of shared bytes instead of `ws.send` building a header, an
 * options object and a two-buffer writev per subscriber (about a third of the CPU per delivery;
 * see BENCHMARKS.md). One allocation and one UTF-8 encode per broadcast: no intermediate Buffer
 * to copy from.
 */
export function textFrame(message: string): Buffer {
  const length = Buffer.byteLength(message);
  const headerLength = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(headerLength + length);
  frame[0] = 0x81;
  if (length < 126) {
    frame[1] = length;
  } else if (length < 65_536) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeBigUInt64BE(BigInt(length), 2);
  }
  frame.write(message, headerLength, length, 'utf8');
  return frame;
}

/**
 * Writes a complete frame straight to the socket under `ws`. Sound only because our server never
 * compresses (perMessageDeflate: false) and never sends Blobs: then `ws` itself writes every frame
 * (data, ping, close) synchronously, so frames never interleave, and `bufferedAmount` still counts
 * these bytes (it reads the socket's queue).
 */
export function writeFrame(ws: WebSocket, frame: Buffer): void {
  (ws as unknown as { _socket: Socket })._socket.write(frame);
}
