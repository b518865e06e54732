import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { ROUTES, type ErrorBody } from '../../../protocol/index.js';
import { loadConfig } from '../../../server/config.js';
import { startServer, type RunningServer } from '../../../server/serve.js';
import { startRealtimeServer, TestClient } from './realtime-harness.js';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

/** The headers of a valid WebSocket handshake, minus the request line and Host. */
const HANDSHAKE = [
  'Upgrade: websocket',
  'Connection: Upgrade',
  `Sec-WebSocket-Key: ${KEY}`,
  'Sec-WebSocket-Version: 13',
];

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Sends `lines` as one request on a fresh TCP connection and reads until the server closes it,
 * failing unless the answer is one complete HTTP/1.1 response: a status line, headers, and a body
 * exactly as long as its Content-Length. A server that leaves the socket open fails by timeout.
 */
async function rawRequest(
  port: number,
  lines: string[],
  extra: Buffer = Buffer.alloc(0),
): Promise<RawResponse> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`), extra]));
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  await once(socket, 'close');
  const raw = Buffer.concat(chunks).toString('utf8');
  const split = raw.indexOf('\r\n\r\n');
  assert.ok(split > 0, `no end of headers in ${JSON.stringify(raw)}`);
  const [statusLine, ...headerLines] = raw.slice(0, split).split('\r\n');
  const match = /^HTTP\/1\.1 (\d{3}) [A-Za-z ]+$/.exec(statusLine!);
  assert.ok(match, `status line ${JSON.stringify(statusLine)}`);
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  const body = raw.slice(split + 4);
  assert.equal(Number(headers['content-length']), Buffer.byteLength(body), 'Content-Length is the body');
  return { status: Number(match[1]), headers, body };
}

/** Asserts a JSON error answer with `code` and returns its body. */
function jsonError(response: RawResponse, status: number, code: string): ErrorBody {
  assert.equal(response.status, status, response.body);
  assert.equal(response.headers['content-type'], 'application/json');
  assert.equal(response.headers.connection, 'close');
  const body = JSON.parse(response.body) as ErrorBody;
  assert.equal(body.error.code, code);
  return body;
}

/** A masked client text frame (RFC 6455 §5.3), small enough for a 7-bit length. */
function clientTextFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const mask = Buffer.from([1, 2, 3, 4]);
  const masked = payload.map((byte, i) => byte ^ mask[i % 4]!);
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]);
}

describe('the WebSocket upgrade, owned by the HTTP server', () => {
  let server: RunningServer;
  before(async () => {
    server = await startServer({
      config: loadConfig({ PORT: '0', STORE: 'memory', STATIC_DIR: '/nonexistent' }),
    });
  });
  after(() => server.close());

  it('tells a plain GET of the WebSocket route to upgrade (426, JSON)', async () => {
    const res = await fetch(`${server.url}${ROUTES.ws}`);
    assert.equal(res.status, 426);
    assert.equal(res.headers.get('upgrade'), 'websocket');
    const body = (await res.json()) as ErrorBody;
    assert.equal(body.error.code, 'validation_failed');
    assert.match(body.error.message, /WebSocket/);
  });

  it('answers a WebSocket upgrade at another path with 404 and closes the socket', async () => {
    const body = jsonError(
      await rawRequest(server.port, [`GET ${ROUTES.tasks}/wss HTTP/1.1`, 'Host: localhost', ...HANDSHAKE]),
      404,
      'not_found',
    );
    assert.match(body.error.message, new RegExp(ROUTES.ws));
  });

  it('answers an upgrade by another method than GET with 404', async () => {
    const lines = [`POST ${ROUTES.ws} HTTP/1.1`, 'Host: localhost', 'Content-Length: 0', ...HANDSHAKE];
    jsonError(await rawRequest(server.port, lines), 404, 'not_found');
  });

  it('answers an upgrade to another protocol (h2c) with 400 rather than leaving it hanging', async () => {
    const lines = [
      'GET /healthz HTTP/1.1',
      'Host: localhost',
      'Connection: Upgrade, HTTP2-Settings',
      'Upgrade: h2c',
      'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA',
    ];
    const body = jsonError(await rawRequest(server.port, lines), 400, 'validation_failed');
    assert.match(body.error.message, /only to WebSocket/);
  });

  it('answers a broken handshake with a JSON 400, naming the versions it speaks', async () => {
    const base = [
      `GET ${ROUTES.ws} HTTP/1.1`,
      'Host: localhost',
      'Upgrade: websocket',
      'Connection: Upgrade',
    ];
    const noKey = jsonError(
      await rawRequest(server.port, [...base, 'Sec-WebSocket-Version: 13']),
      400,
      'validation_failed',
    );
    assert.match(noKey.error.message, /Sec-WebSocket-Key/);
    const oldVersion = await rawRequest(server.port, [
      ...base,
      `Sec-WebSocket-Key: ${KEY}`,
      'Sec-WebSocket-Version: 7',
    ]);
    jsonError(oldVersion, 400, 'validation_failed');
    assert.equal(oldVersion.headers['sec-websocket-version'], '13, 8');
  });

  it('reads a frame the client sent in the same packet as its handshake', async () => {
    const socket = connect(server.port, '127.0.0.1');
    await once(socket, 'connect');
    const lines = [`GET ${ROUTES.ws} HTTP/1.1`, 'Host: localhost', ...HANDSHAKE];
    socket.write(
      Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`), clientTextFrame('{"type":"ping"}')]),
    );
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    while (!received.includes('"pong"')) await once(socket, 'data');
    assert.match(received, /^HTTP\/1\.1 101 /);
    assert.ok(received.indexOf('"hello"') < received.indexOf('"pong"'), 'hello first, then the pong');
    socket.destroy();
  });

  it('counts upgrades in /metrics by route and status (101 accepted)', async () => {
    const ws = new WebSocket(server.url.replace('http', 'ws') + ROUTES.ws);
    await once(ws, 'open');
    ws.terminate();
    await rawRequest(server.port, [`GET ${ROUTES.tasks}/nope HTTP/1.1`, 'Host: localhost', ...HANDSHAKE]);
    const text = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(
      text,
      /^agent_task_status_http_requests_total\{method="GET",route="\/api\/agent-tasks\/ws",status="101"\} [1-9]/m,
    );
    assert.match(
      text,
      /^agent_task_status_http_requests_total\{method="GET",route="unmatched",status="404"\} [1-9]/m,
    );
  });
});

describe('the upgrade checks of the hub', () => {
  it('refuses a disallowed Origin with 403 and the JSON reason', async () => {
    const server = await startRealtimeServer();
    try {
      const lines = [
        `GET ${ROUTES.ws} HTTP/1.1`,
        'Host: localhost',
        'Origin: https://evil.example',
        ...HANDSHAKE,
      ];
      const body = jsonError(await rawRequest(server.port, lines), 403, 'forbidden');
      assert.match(body.error.message, /https:\/\/evil\.example.*ALLOWED_ORIGINS/);
    } finally {
      await server.close();
    }
  });

  it('answers 503 with Retry-After while refusing, and while closing', async () => {
    const server = await startRealtimeServer();
    const lines = [`GET ${ROUTES.ws} HTTP/1.1`, 'Host: localhost', ...HANDSHAKE];
    try {
      server.realtime.refuseUpgrades(true);
      const refusing = await rawRequest(server.port, lines);
      assert.match(jsonError(refusing, 503, 'realtime_unavailable').error.message, /switched off/);
      assert.equal(refusing.headers['retry-after'], '5');
      server.realtime.refuseUpgrades(false);
      await server.realtime.close();
      const closing = await rawRequest(server.port, lines);
      assert.match(jsonError(closing, 503, 'realtime_unavailable').error.message, /shutting down/);
      assert.equal(closing.headers['retry-after'], '5');
    } finally {
      await server.close();
    }
  });

  it('gives every socket the same message and close listeners: no closure per connection', async () => {
    const server = await startRealtimeServer();
    const a = await TestClient.connect(server.wsUrl);
    const b = await TestClient.connect(server.wsUrl);
    try {
      const [first, second] = [...server.realtime.wss.clients];
      assert.deepEqual(second!.listeners('message'), first!.listeners('message'));
      assert.equal(first!.listeners('message').length, 1);
      // ws's own client tracking adds a closure of its own; every other close listener is shared.
      const shared = first!
        .listeners('close')
        .filter((listener) => second!.listeners('close').includes(listener));
      assert.equal(shared.length, first!.listeners('close').length - 1);
    } finally {
      a.close();
      b.close();
      await server.close();
    }
  });
});
