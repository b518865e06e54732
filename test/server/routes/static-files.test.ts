import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ROUTES } from '../../../protocol/index.js';
import { errorOf, harness } from './harness.js';

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

  test('without a build, / and the widget answer 404 saying to run npm run build', async () => {
    const h = harness({ env: { STATIC_DIR: join(dir, 'missing') } });
    for (const path of ['/', ROUTES.widget]) {
      const res = await h.request(path);
      assert.equal(res.status, 404, path);
      assert.match((await errorOf(res)).message, /npm run build/, path);
    }
  });
});
