import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { openAccessNotice, protectedModeRefusal } from '../../server/protected-mode.js';

const KEYS = [{ kid: 'k1', secret: 'a-secret-that-is-long-enough-for-a-key' }];
const ADMIN = 'an-admin-token-long-enough';
const settings = (overrides: Partial<Parameters<typeof protectedModeRefusal>[0]> = {}) => ({
  host: '0.0.0.0',
  adminToken: null,
  allowOpenCreation: false,
  publicReads: false,
  viewerTokenKeys: null,
  demo: false,
  ...overrides,
});

describe('protected mode', () => {
  test('refuses the demo beyond loopback, whatever else is accepted, and allows it on loopback', () => {
    const everythingClosed = { adminToken: ADMIN, viewerTokenKeys: KEYS, demo: true };
    assert.match(protectedModeRefusal(settings(everythingClosed)) ?? '', /DEMO=1.*drop every connection/);
    assert.equal(protectedModeRefusal(settings({ ...everythingClosed, demo: false })), null);
    assert.equal(protectedModeRefusal(settings({ host: '127.0.0.1', demo: true })), null);
  });

  test('on loopback nothing is refused, and only an open creation is warned of', () => {
    assert.equal(protectedModeRefusal(settings({ host: '127.0.0.1' })), null);
    assert.equal(
      openAccessNotice(settings({ host: '127.0.0.1' })),
      'warning: ADMIN_TOKEN is not set, so anyone who can reach this server can create tasks',
    );
    assert.equal(openAccessNotice(settings({ host: '::1', adminToken: ADMIN })), null);
  });

  test('beyond loopback without viewer tokens, reads must be accepted with PUBLIC_READS=1', () => {
    assert.equal(
      protectedModeRefusal(settings({ adminToken: ADMIN })),
      'refusing to listen on 0.0.0.0 (beyond loopback) while anyone who can reach it may read every task and its logs: set VIEWER_TOKEN_KEYS (or PUBLIC_READS=1) to start anyway, or HOST=127.0.0.1; see SECURITY.md',
    );
    const accepted = settings({ adminToken: ADMIN, publicReads: true });
    assert.equal(protectedModeRefusal(accepted), null);
    assert.equal(
      openAccessNotice(accepted),
      'open: anyone who can reach this server may read every task and its logs (PUBLIC_READS=1)',
    );
  });

  test('with VIEWER_TOKEN_KEYS reads are not open: no PUBLIC_READS needed, and nothing to announce', () => {
    const closed = settings({ adminToken: ADMIN, viewerTokenKeys: KEYS });
    assert.equal(protectedModeRefusal(closed), null);
    assert.equal(openAccessNotice(closed), null);
  });

  test('with VIEWER_TOKEN_KEYS but no ADMIN_TOKEN, minting is as open as creation, and said so', () => {
    const open = settings({ viewerTokenKeys: KEYS });
    assert.match(
      protectedModeRefusal(open) ?? '',
      /may create tasks and mint viewer tokens: set ADMIN_TOKEN \(or ALLOW_OPEN_CREATION=1\) to start anyway/,
    );
    assert.equal(
      openAccessNotice({ ...open, allowOpenCreation: true }),
      'open: anyone who can reach this server may create tasks and mint viewer tokens (ALLOW_OPEN_CREATION=1)',
    );
    assert.equal(
      openAccessNotice({ ...open, host: '127.0.0.1' }),
      'warning: ADMIN_TOKEN is not set, so anyone who can reach this server can create tasks and mint viewer tokens',
    );
  });
});
