import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { httpUrl, wsUrl } from '../../widget/connection/urls.js';

describe('endpoint URLs', () => {
  it('puts the WebSocket on ws: for http and wss: for https', () => {
    assert.equal(wsUrl('http://status.test'), 'ws://status.test/api/agent-tasks/ws');
    assert.equal(wsUrl('https://status.test/'), 'wss://status.test/api/agent-tasks/ws');
  });

  it('keeps a base path, with or without its trailing slash, and drops its query', () => {
    assert.equal(wsUrl('https://example.test/status/?x=1'), 'wss://example.test/status/api/agent-tasks/ws');
    assert.equal(
      httpUrl('https://example.test/status', '/api/agent-tasks/t-1/status', {
        afterSeq: 4,
        beforeSeq: undefined,
      }),
      'https://example.test/status/api/agent-tasks/t-1/status?afterSeq=4',
    );
  });
});
