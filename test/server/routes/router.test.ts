import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SmartRouter } from 'hono/router/smart-router';
import { ROUTES } from '../../../protocol/index.js';
import { demoRoutes } from '../../../server/demo/demo-routes.js';
import type { Realtime } from '../../../server/realtime/realtime.js';
import { harness } from './harness.js';

// A static path segment beside a parameter (for one method) drops Hono to its TrieRouter, which
// costs about a microsecond more on every request, the status POST included.
test('every route, the WebSocket and demo ones too, fits RegExpRouter', async () => {
  const realtime = {} as Realtime;
  const { app } = harness({ realtime, demo: demoRoutes(realtime, []) });
  await app.request(ROUTES.ws);
  assert.equal((app.router as SmartRouter<unknown>).activeRouter.name, 'RegExpRouter');
});
