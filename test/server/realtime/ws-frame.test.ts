import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Socket, type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { textFrame, writeFrame } from '../../../server/realtime/ws-frame.js';

/** ws's private fields writeFrame depends on; a test below fails when ws renames or moves them. */
interface WsInternals {
  _socket: unknown;
  _sender: { _socket: unknown };
}

/** A ws server and one connected client, for the describe block that calls it; closed after it. */
function connectedPair() {
  const pair = {} as { wss: WebSocketServer; server: WebSocket; client: WebSocket };
  before(async () => {
    pair.wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
    await once(pair.wss, 'listening');
    const accepted = once(pair.wss, 'connection');
    pair.client = new WebSocket(`ws://127.0.0.1:${(pair.wss.address() as AddressInfo).port}`);
    [pair.server] = (await accepted) as [WebSocket];
    await once(pair.client, 'open');
  });
  after(async () => {
    pair.client.terminate();
    await new Promise((resolve) => pair.wss.close(resolve));
  });
  return pair;
}

describe('a broadcast framed once', () => {
  const pair = connectedPair();

  for (const length of [0, 125, 126, 65_535, 65_536, 200_000]) {
    it(`reaches a ws client as one text message (${length} bytes)`, async () => {
      const { server, client } = pair;
      const message = 'a'.repeat(length);
      const received = once(client, 'message') as Promise<[Buffer, boolean]>;
      writeFrame(server, textFrame(message));
      const [data, isBinary] = await received;
      assert.equal(isBinary, false);
      assert.equal(String(data), message);
    });
  }

  it('sizes the frame by UTF-8 bytes, not string length', async () => {
    const { server, client } = pair;
    // 124 characters, 126 bytes: a 7-bit length taken from the string would cut the message.
    const message = `é${'a'.repeat(122)}é`;
    const received = once(client, 'message') as Promise<[Buffer, boolean]>;
    writeFrame(server, textFrame(message));
    const [data] = await received;
    assert.equal(String(data), message);
  });

  it('interleaves with frames ws sends itself without corrupting either', async () => {
    const { server, client } = pair;
    const messages: string[] = [];
    client.on('message', (data: Buffer) => messages.push(String(data)));
    server.send('one');
    writeFrame(server, textFrame('two'));
    server.send('three');
    while (messages.length < 3) await once(client, 'message');
    assert.deepEqual(messages, ['one', 'two', 'three']);
  });
});

// writeFrame bypasses ws's public API. These pin what it relies on, so upgrading `ws` fails here,
// by name, instead of as lost or corrupt messages in production.
describe('the ws internals writeFrame relies on', () => {
  const pair = connectedPair();

  it('a server-side socket keeps its net.Socket at _socket, the one ws sends its own frames on', () => {
    const { server, wss } = pair;
    const internals = server as unknown as WsInternals;
    assert.ok(internals._socket instanceof Socket, '_socket is a net.Socket');
    assert.equal(
      internals._socket.localPort,
      (wss.address() as AddressInfo).port,
      "this connection's socket",
    );
    assert.equal(internals._sender._socket, internals._socket, "ws's Sender writes to the same socket");
  });

  it('counts bytes written with writeFrame in bufferedAmount, and keeps them in order with ws.send under backpressure', async () => {
    const { server, client } = pair;
    const socket = (server as unknown as WsInternals)._socket as Socket;
    const clientSocket = (client as unknown as WsInternals)._socket as Socket;
    assert.equal(server.bufferedAmount, 0);
    // The client stops reading: once the kernel buffers are full, writes queue in the socket.
    clientSocket.pause();
    const frame = textFrame('b'.repeat(256 * 1024));
    let written = 0;
    while (socket.writableLength === 0 && written < 400) {
      writeFrame(server, frame);
      written += 1;
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.ok(socket.writableLength > 0, `the kernel took ${written} frames of 256 KB without pushing back`);
    const before = server.bufferedAmount;
    writeFrame(server, frame);
    assert.equal(server.bufferedAmount - before, frame.length, 'bufferedAmount grew by the frame');
    server.send('last, from ws.send');

    const received: string[] = [];
    client.on('message', (data: Buffer) => received.push(String(data)));
    clientSocket.resume();
    while (received.length < written + 2) await once(client, 'message');
    assert.equal(received.length, written + 2);
    assert.ok(
      received.slice(0, -1).every((message) => message.length === 256 * 1024 && /^b+$/.test(message)),
    );
    assert.equal(received.at(-1), 'last, from ws.send');
    if (socket.writableLength > 0) await once(socket, 'drain');
    assert.equal(server.bufferedAmount, 0);
  });
});
