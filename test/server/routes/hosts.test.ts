import assert from 'node:assert/strict';
import { once } from 'node:events';
import { request } from 'node:http';
import { connect } from 'node:net';
import { describe, test } from 'node:test';
import { ErrorBodySchema, ROUTES } from '../../../protocol/index.js';
import { hostAllowlist, isHostAllowed, isLoopback } from '../../../server/http/hosts.js';
import { startServer } from '../../../server/serve.js';
import { testConfig } from './harness.js';

const DEFAULTS = {
  host: '127.0.0.1',
  allowedHosts: [],
  allowedOrigins: ['http://localhost:*', 'http://127.0.0.1:*', 'http://[::1]:*'],
};

describe('isHostAllowed', () => {
  test('by default a name is refused unless it is localhost: a rebound domain name gets nothing', () => {
    const allowed = hostAllowlist(DEFAULTS);
    assert.equal(isHostAllowed('evil.example:8787', allowed), false);
    assert.equal(isHostAllowed('evil.example', allowed), false);
    assert.equal(isHostAllowed('localhost.evil.example', allowed), false);
    assert.equal(isHostAllowed('localhost:8787', allowed), true);
    assert.equal(isHostAllowed('LOCALHOST', allowed), true);
    assert.equal(
      isHostAllowed('app.localhost:5173', allowed),
      true,
      'RFC 6761: browsers keep *.localhost on loopback',
    );
  });

  test('IP addresses are always accepted: a URL with an address cannot be rebound', () => {
    const allowed = hostAllowlist(DEFAULTS);
    for (const host of ['127.0.0.1:8787', '10.0.0.5', '[::1]:8787', '[fd00::7]']) {
      assert.equal(isHostAllowed(host, allowed), true, host);
    }
  });

  test('ALLOWED_HOSTS, the HOST name and the hosts of ALLOWED_ORIGINS are accepted, with any port or a trailing dot', () => {
    const allowed = hostAllowlist({
      host: 'status.internal',
      allowedHosts: ['status.example.com'],
      allowedOrigins: ['https://dash.example.com', '*'],
    });
    for (const host of [
      'status.example.com',
      'STATUS.example.com:443',
      'status.example.com.',
      'status.internal:8787',
      'dash.example.com',
    ]) {
      assert.equal(isHostAllowed(host, allowed), true, host);
    }
    assert.equal(isHostAllowed('other.example.com', allowed), false, '`*` in ALLOWED_ORIGINS names no host');
    assert.equal(isHostAllowed('example.com', allowed), false);
  });

  test('a Host that is not a host name is refused', () => {
    const allowed = hostAllowlist(DEFAULTS);
    for (const host of ['', 'localhost@evil.example', 'evil.example/localhost', 'localhost:port', '[::1']) {
      assert.equal(isHostAllowed(host, allowed), false, JSON.stringify(host));
    }
  });

  test('ALLOWED_HOSTS=* turns the check off', () => {
    assert.equal(
      isHostAllowed('anything.example', hostAllowlist({ ...DEFAULTS, allowedHosts: ['*'] })),
      true,
    );
  });
});

test('isLoopback knows the loopback names and addresses, and nothing else', () => {
  for (const host of ['127.0.0.1', '127.1.2.3', '::1', 'localhost', '::ffff:127.0.0.1'])
    assert.equal(isLoopback(host), true, host);
  for (const host of ['0.0.0.0', '::', '10.0.0.1', '::ffff:10.0.0.1', 'example.com', '128.0.0.1']) {
    assert.equal(isLoopback(host), false, host);
  }
});

/** A GET with any Host header (fetch cannot set one), its status and body. */
function getWithHost(url: string, host: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(url, { headers: { ...headers, Host: host } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject).end();
  });
}

/**
 * A WebSocket handshake with this Host and Origin on a raw socket: the refusal in full (the server
 * closes after it), or the head of a 101 (then the socket is closed here).
 */
async function upgradeWithHost(port: number, host: string, origin: string): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(
    [
      `GET ${ROUTES.ws} HTTP/1.1`,
      `Host: ${host}`,
      `Origin: ${origin}`,
      'Upgrade: websocket',
      'Connection: Upgrade',
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
      'Sec-WebSocket-Version: 13',
      '\r\n',
    ].join('\r\n'),
  );
  let text = '';
  socket.setEncoding('utf8').on('data', (chunk: string) => {
    text += chunk;
    if (text.startsWith('HTTP/1.1 101 ') && text.includes('\r\n\r\n')) socket.destroy();
  });
  await once(socket, 'close');
  return text;
}

describe('the Host check on a real server (DNS rebinding)', () => {
  test('a page on a rebound domain (Origin equal to its spoofed Host) is refused with 421 host_not_allowed', async (t) => {
    const server = await startServer({ config: testConfig({ PORT: '0' }) });
    t.after(() => server.close());
    const rebound = 'evil.example:8787';
    const read = await getWithHost(`${server.url}${ROUTES.activeTask('agent-7')}`, rebound, {
      Origin: `http://${rebound}`,
    });
    assert.equal(read.status, 421);
    const { error } = ErrorBodySchema.parse(JSON.parse(read.body));
    assert.equal(error.code, 'host_not_allowed');
    assert.match(error.message, /"evil\.example:8787".*ALLOWED_HOSTS/);

    const upgrade = await upgradeWithHost(server.port, rebound, `http://${rebound}`);
    assert.match(upgrade, /^HTTP\/1\.1 421 Misdirected Request\r\n/);
    const body = ErrorBodySchema.parse(JSON.parse(upgrade.slice(upgrade.indexOf('\r\n\r\n') + 4)));
    assert.equal(body.error.code, 'host_not_allowed');
  });

  test('the names the operator configured, and loopback, are served over HTTP and WebSocket', async (t) => {
    const server = await startServer({
      config: testConfig({ PORT: '0', ALLOWED_HOSTS: 'status.example.com' }),
    });
    t.after(() => server.close());
    for (const host of ['status.example.com', 'localhost', `127.0.0.1:${server.port}`]) {
      assert.equal((await getWithHost(`${server.url}/healthz`, host)).status, 200, host);
    }
    const upgrade = await upgradeWithHost(server.port, 'status.example.com', 'https://status.example.com');
    assert.match(upgrade, /^HTTP\/1\.1 101 /, 'same origin under an allowed name');
  });
});
