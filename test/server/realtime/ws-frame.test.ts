import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Receiver } from 'ws';
import { frameOnce, textFrame } from '../../../server/realtime/ws-frame.js';

/** What a client's `ws` makes of the bytes: the messages, or the protocol error. */
function receive(frame: Buffer): Promise<{ data: Buffer; isBinary: boolean }> {
  return new Promise((resolve, reject) => {
    // A client-side receiver: it expects unmasked frames, as a server sends them.
    const receiver = new Receiver({ isServer: false });
    receiver.on('message', (data: Buffer, isBinary: boolean) => resolve({ data, isBinary }));
    receiver.on('error', reject);
    receiver.write(frame);
  });
}

describe('a broadcast framed once', () => {
  for (const length of [0, 125, 126, 65_535, 65_536, 200_000]) {
    it(`is one final, unmasked text frame that ws reads back (${length} bytes)`, async () => {
      const payload = Buffer.alloc(length, 'a');
      const { data, isBinary } = await receive(textFrame(payload));
      assert.equal(isBinary, false);
      assert.ok(data.equals(payload));
    });
  }

  it('is built once for the subscribers of one broadcast, and again for the next', () => {
    const first = Buffer.from('{"n":1}');
    const second = Buffer.from('{"n":2}');
    assert.equal(frameOnce(first), frameOnce(first), 'the very same Buffer for every subscriber');
    assert.notEqual(frameOnce(second), frameOnce(first));
    assert.ok(frameOnce(second).subarray(2).equals(second));
  });
});
