import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isOriginAllowed, parseOriginPattern } from '../../../server/http/origins.js';

describe('isOriginAllowed', () => {
  test('an exact origin matches only itself', () => {
    const allowed = ['https://dash.example.com'];
    assert.equal(isOriginAllowed('https://dash.example.com', allowed), true);
    assert.equal(isOriginAllowed('http://dash.example.com', allowed), false, 'other scheme');
    assert.equal(isOriginAllowed('https://dash.example.com:8443', allowed), false, 'other port');
    assert.equal(isOriginAllowed('https://evil-dash.example.com', allowed), false);
    assert.equal(isOriginAllowed('https://dash.example.com.evil.io', allowed), false);
  });

  test('default ports compare equal whether written or not', () => {
    assert.equal(isOriginAllowed('https://a.example.com', ['https://a.example.com:443']), true);
    assert.equal(isOriginAllowed('http://a.example.com:80', ['http://a.example.com']), true);
  });

  test('host names compare case-insensitively', () => {
    assert.equal(isOriginAllowed('https://DASH.example.com', ['https://dash.EXAMPLE.com']), true);
  });

  test('a port wildcard matches any port of that scheme and host, and no other host', () => {
    const allowed = ['http://localhost:*'];
    assert.equal(isOriginAllowed('http://localhost:5173', allowed), true);
    assert.equal(isOriginAllowed('http://localhost', allowed), true);
    assert.equal(isOriginAllowed('https://localhost:5173', allowed), false);
    assert.equal(isOriginAllowed('http://localhost.evil.io:5173', allowed), false);
    assert.equal(isOriginAllowed('http://[::1]:3000', ['http://[::1]:*']), true);
  });

  test('* allows any web origin', () => {
    assert.equal(isOriginAllowed('https://anything.example', ['*']), true);
  });

  test('a missing or opaque origin is refused even with *', () => {
    for (const origin of [undefined, null, '', 'null', 'file://', 'chrome-extension://abc']) {
      assert.equal(isOriginAllowed(origin, ['*']), false, String(origin));
    }
  });

  test('a same-origin request is allowed whatever the list says', () => {
    assert.equal(isOriginAllowed('https://status.example.com', [], 'status.example.com'), true);
    assert.equal(isOriginAllowed('https://status.example.com', [], 'status.example.com:443'), true);
    assert.equal(isOriginAllowed('http://127.0.0.1:8787', [], '127.0.0.1:8787'), true);
    assert.equal(isOriginAllowed('http://127.0.0.1:9999', [], '127.0.0.1:8787'), false);
    assert.equal(isOriginAllowed('https://evil.example', [], 'status.example.com'), false);
  });

  test('invalid entries in the list match nothing', () => {
    assert.equal(
      isOriginAllowed('https://a.example.com', ['a.example.com', 'https://a.example.com/']),
      false,
    );
  });
});

describe('parseOriginPattern', () => {
  test('accepts origins, port wildcards and *', () => {
    assert.deepEqual(parseOriginPattern('https://a.example.com'), {
      protocol: 'https:',
      hostname: 'a.example.com',
      port: '',
    });
    assert.deepEqual(parseOriginPattern('http://localhost:*'), {
      protocol: 'http:',
      hostname: 'localhost',
      port: '*',
    });
    assert.equal(parseOriginPattern('*'), '*');
  });

  test('refuses paths, credentials, other schemes and a wildcard after a port', () => {
    for (const entry of [
      'a.example.com',
      'https://a.example.com/',
      'https://a.example.com/app',
      'https://user@a.example.com',
      'ftp://a.example.com',
      'http://localhost:80:*',
      'https://*.example.com',
    ]) {
      assert.equal(parseOriginPattern(entry), null, entry);
    }
  });
});
