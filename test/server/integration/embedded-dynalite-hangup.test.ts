// The embedded dynalite runs inside the server process. dynalite rethrows the error of a request
// whose client hangs up mid-body, which would be an uncaught exception there: the whole server
// down because of one broken connection (any local process can open one to its loopback port).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { createDynamoClient, LOCAL_CREDENTIALS } from '../../../server/store/dynamodb/client.js';
import {
  startEmbeddedDynalite,
  type EmbeddedDynalite,
} from '../../../server/store/dynamodb/embedded-dynalite.js';
import { tableExists } from '../../../server/store/dynamodb/table.js';
import { tempDir } from './support/agent-http.js';

let data: Awaited<ReturnType<typeof tempDir>>;
let dynalite: EmbeddedDynalite;
const uncaught: Error[] = [];
const recordUncaught = (error: Error) => uncaught.push(error);

before(async () => {
  data = await tempDir('ats-hangup-');
  dynalite = await startEmbeddedDynalite({ dataDir: data.dir });
  // Recorded instead of crashing the test run, so the test can say what happened.
  process.on('uncaughtException', recordUncaught);
});

after(async () => {
  process.off('uncaughtException', recordUncaught);
  await dynalite?.close();
  await data?.remove();
});

test('a client hanging up in the middle of a request body does not throw in the server process', async () => {
  const socket = net.connect(dynalite.port, '127.0.0.1');
  await once(socket, 'connect');
  const body = JSON.stringify({ TableName: 'agent-task-status' });
  socket.write(
    'POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-amz-json-1.0\r\n' +
      `X-Amz-Target: DynamoDB_20120810.DescribeTable\r\nContent-Length: ${body.length + 100}\r\n\r\n${body}`,
  );
  socket.destroy();
  await once(socket, 'close');

  // The server noticed the hang-up by the time it answers the next request.
  const client = createDynamoClient({ endpoint: dynalite.endpoint, credentials: LOCAL_CREDENTIALS });
  try {
    assert.equal(await tableExists(client, 'agent-task-status'), false, 'it still answers');
  } finally {
    client.destroy();
  }
  assert.deepEqual(
    uncaught.map((error) => error.message),
    [],
  );
});
