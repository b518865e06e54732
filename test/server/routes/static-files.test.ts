import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { ROUTES } from '../../../protocol/index.js';
import { compressedCopies } from '../../../scripts/precompress.js';
import { DEMO_CSP } from '../../../server/http/security-headers.js';
import { startServer } from '../../../server/serve.js';
import { errorOf, harness, testConfig } from './harness.js';

describe('static files', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ats-static-'));
    writeFileSync(join(dir, 'agent-task-status.js'), 'export const widget = 1;\n');
    mkdirSync(join(dir, 'demo', 'assets'), { recursive: true });
    writeFileSync(join(dir, 'demo', 'index.html'), '<!doctype html><title>demo</title>\n');
    writeFileSync(join(dir, 'demo', 'assets', 'main.js'), 'console.log(1);\n');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('the widget file is served as JavaScript with CORS for allowed origins', async () => {
    const h = harness({ env: { STATIC_DIR: dir, ALLOWED_ORIGINS: 'https://dash.example.com' } });
    const res = await h.request(ROUTES.widget, { headers: { Origin: 'https://dash.example.com' } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /javascript/);
    assert.equal(res.headers.get('access-control-allow-origin'), 'https://dash.example.com');
    assert.equal(await res.text(), 'export const widget = 1;\n');
  });

  test('a browser gets the compressed copy the build wrote: Brotli if it accepts it, else gzip, else the file', async () => {
    const widget = join(dir, 'agent-task-status.js');
    const source = Buffer.from(`export const widget = ${JSON.stringify('x'.repeat(2_000))};\n`);
    writeFileSync(widget, source);
    for (const { suffix, bytes } of compressedCopies(source)) writeFileSync(widget + suffix, bytes);
    const decode = { br: brotliDecompressSync, gzip: gunzipSync, none: (bytes: Buffer) => bytes };
    const h = harness({ env: { STATIC_DIR: dir } });
    try {
      for (const [accept, encoding] of [
        ['gzip, deflate, br, zstd', 'br'],
        ['gzip, deflate', 'gzip'],
        ['identity', 'none'],
      ] as const) {
        const res = await h.request(ROUTES.widget, { headers: { 'Accept-Encoding': accept } });
        assert.equal(res.status, 200, accept);
        assert.equal(res.headers.get('content-encoding') ?? 'none', encoding, accept);
        assert.match(res.headers.get('content-type') ?? '', /javascript/, accept);
        // Uncompressed too: a shared cache must not hand the plain file to a Brotli browser.
        assert.match(res.headers.get('vary') ?? '', /accept-encoding/i, accept);
        const body = Buffer.from(await res.arrayBuffer());
        assert.equal(Number(res.headers.get('content-length')), body.length, accept);
        assert.deepEqual(decode[encoding](body), source, accept);
      }
    } finally {
      for (const suffix of ['.gz', '.br']) rmSync(widget + suffix);
      writeFileSync(widget, 'export const widget = 1;\n');
    }
  });

  test('a compressed copy older than its file is not served: the file was changed without a build', async () => {
    const widget = join(dir, 'agent-task-status.js');
    const old = Buffer.from('export const widget = "old";\n');
    for (const { suffix, bytes } of compressedCopies(old)) writeFileSync(widget + suffix, bytes);
    writeFileSync(widget, 'export const widget = "patched";\n');
    const later = new Date(Date.now() + 60_000);
    utimesSync(widget, later, later);
    try {
      const h = harness({ env: { STATIC_DIR: dir } });
      const res = await h.request(ROUTES.widget, { headers: { 'Accept-Encoding': 'gzip, br' } });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-encoding'), null);
      assert.equal(await res.text(), 'export const widget = "patched";\n');
    } finally {
      for (const suffix of ['.gz', '.br']) rmSync(widget + suffix);
      writeFileSync(widget, 'export const widget = 1;\n');
    }
  });

  test('a Range request for the widget gets its slice without an ETag (the ETag names the whole file)', async () => {
    const h = harness({ env: { STATIC_DIR: dir } });
    const res = await h.request(ROUTES.widget, { headers: { Range: 'bytes=0-5' } });
    assert.equal(res.status, 206);
    assert.equal(await res.text(), 'export');
    assert.equal(res.headers.get('etag'), null);
  });

  test('the widget is checked on every load: 304 while unchanged, CORS kept; a new build answers 200', async () => {
    const h = harness({ env: { STATIC_DIR: dir, ALLOWED_ORIGINS: 'https://dash.example.com' } });
    const origin = { Origin: 'https://dash.example.com' };
    const first = await h.request(ROUTES.widget, { headers: origin });
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('cache-control'), 'no-cache');
    const tag = first.headers.get('etag');
    assert.ok(tag, 'an ETag');

    const again = await h.request(ROUTES.widget, { headers: { ...origin, 'If-None-Match': tag } });
    assert.equal(again.status, 304);
    assert.equal(await again.text(), '');
    assert.equal(again.headers.get('etag'), tag);
    assert.equal(again.headers.get('access-control-allow-origin'), 'https://dash.example.com');
    assert.match(again.headers.get('vary') ?? '', /accept-encoding/i);

    const widget = join(dir, 'agent-task-status.js');
    writeFileSync(widget, 'export const widget = 2;\n');
    try {
      const rebuilt = await h.request(ROUTES.widget, { headers: { ...origin, 'If-None-Match': tag } });
      assert.equal(rebuilt.status, 200);
      assert.notEqual(rebuilt.headers.get('etag'), tag);
      assert.equal(await rebuilt.text(), 'export const widget = 2;\n');
    } finally {
      writeFileSync(widget, 'export const widget = 1;\n');
    }
  });

  test('the demo is served at / with its assets', async () => {
    const h = harness({ env: { STATIC_DIR: dir } });
    const page = await h.request('/');
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>demo<\/title>/);
    const asset = await h.request('/assets/main.js');
    assert.equal(asset.status, 200);
  });

  test('paths under /api/ are never looked up on disk', async () => {
    mkdirSync(join(dir, 'demo', 'api'), { recursive: true });
    writeFileSync(join(dir, 'demo', 'api', 'secret.txt'), 'no');
    const h = harness({ env: { STATIC_DIR: dir } });
    const res = await h.request('/api/secret.txt');
    assert.equal(res.status, 404);
    assert.equal((await errorOf(res)).code, 'not_found');
  });

  test('malformed paths (a NUL byte, a path through a file, a name too long) answer 404 not_found over HTTP, and nothing is logged', async (t) => {
    const logged: unknown[] = [];
    const log = {
      error: (...args: unknown[]) => logged.push(args),
      warn: (...args: unknown[]) => logged.push(args),
    };
    const server = await startServer({ config: testConfig({ PORT: '0', STATIC_DIR: dir }), log });
    t.after(() => server.close());
    for (const path of [
      '/%00',
      '/demo/%00x',
      `${ROUTES.widget}%00`,
      `${ROUTES.widget}/x`,
      `/${'a'.repeat(5_000)}`,
    ]) {
      const res = await fetch(`${server.url}${path}`);
      assert.equal(res.status, 404, path.slice(0, 40));
      assert.equal((await errorOf(res)).code, 'not_found', path.slice(0, 40));
    }
    assert.deepEqual(logged, []);
  });

  test('the widget and the demo carry nosniff and no-referrer, and the demo page its CSP, over HTTP', async (t) => {
    const server = await startServer({ config: testConfig({ PORT: '0', STATIC_DIR: dir }) });
    t.after(() => server.close());
    for (const path of [ROUTES.widget, '/', '/assets/main.js', '/healthz']) {
      const res = await fetch(`${server.url}${path}`);
      assert.equal(res.status, 200, path);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path);
      assert.equal(res.headers.get('referrer-policy'), 'no-referrer', path);
      const csp = res.headers.get('content-security-policy');
      assert.equal(csp, path === '/' ? DEMO_CSP : null, path);
    }
    assert.match(DEMO_CSP, /script-src 'self'(;|$)/, 'no inline script');
    assert.match(DEMO_CSP, /style-src 'self'(;|$)/, 'no inline style');
    assert.match(DEMO_CSP, /frame-ancestors 'none'/);
  });

  test('without a build, / and the widget answer 404 saying to run npm run build', async () => {
    const h = harness({ env: { STATIC_DIR: join(dir, 'missing') } });
    for (const path of ['/', ROUTES.widget]) {
      const res = await h.request(path);
      assert.equal(res.status, 404, path);
      assert.match((await errorOf(res)).message, /npm run build/, path);
    }
  });
});
