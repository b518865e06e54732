import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { textFrame, writeFrame } from '../../../server/realtime/ws-frame.js';

describe('a broadcast framed once', () => {
  let wss: WebSocketServer;
  let server: WebSocket;
  let client: WebSocket;

  before(async () => {
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
    await once(wss, 'listening');
    const accepted = once(wss, 'connection');
    client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
    [server] = (await accepted) as [WebSocket];
    await once(client, 'open');
  });

  after(async () => {
    client.terminate();
    await new Promise((resolve) => wss.close(resolve));
  });

  for (const length of [0, 125, 126, 65_535, 65_536, 200_000]) {
    it(`reaches a ws client as one text message (${length} bytes)`, async () => {
      const message = 'a'.repeat(length);
      const received = once(client, 'message') as Promise<[Buffer, boolean]>;
      writeFrame(server, textFrame(message));
      const [data, isBinary] = await received;
      assert.equal(isBinary, false);
      assert.equal(String(data), message);
    });
  }

  it('sizes the frame by UTF-8 bytes, not string length', async () => {
    // 124 characters, 126 bytes: a 7-bit length taken from the string would cut the message.
    const message = `é${'a'.repeat(122)}é`;
    const received = once(client, 'message') as Promise<[Buffer, boolean]>;
    writeFrame(server, textFrame(message));
    const [data] = await received;
    assert.equal(String(data), message);
  });

  it('interleaves with frames ws sends itself without corrupting either', async () => {
    const messages: string[] = [];
    client.on('message', (data: Buffer) => messages.push(String(data)));
    server.send('one');
    writeFrame(server, textFrame('two'));
    server.send('three');
    while (messages.length < 3) await once(client, 'message');
    assert.deepEqual(messages, ['one', 'two', 'three']);
  });
});
