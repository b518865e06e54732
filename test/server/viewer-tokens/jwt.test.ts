import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseViewerTokenKeys, VIEWER_TOKEN } from '../../../protocol/index.js';
import { mintViewerToken } from '../../../sdk/viewer-token.js';
import { signViewerToken, verifyViewerToken, viewerKeyRing } from '../../../server/viewer-tokens/jwt.js';
import { checkReaderToken } from '../../../server/viewer-tokens/reader-token.js';
import { ADMIN_TOKEN, claimsAt, forgeToken, KEYS, OLD_KEYS, SECRET_1, SECRET_2, T0 } from './tokens.js';

const ring = viewerKeyRing(parseViewerTokenKeys(KEYS));
const refusalOf = (token: string, nowMs = T0) => {
  const checked = verifyViewerToken(token, ring, nowMs);
  return checked.ok ? 'accepted' : checked.refusal;
};

describe('viewer token verification', () => {
  test('a token minted by the SDK verifies, with its scope and expiry', () => {
    const token = mintViewerToken(KEYS, { tasks: ['t-1'], agents: ['agent-7'], ttlSeconds: 60 }, () => T0);
    const checked = verifyViewerToken(token, ring, T0);
    assert.ok(checked.ok);
    assert.deepEqual([...checked.grant.tasks], ['t-1']);
    assert.deepEqual([...checked.grant.agents], ['agent-7']);
    assert.equal(checked.grant.expiresAt, T0 + 60_000);
    assert.equal(checked.grant.all, false);
  });

  test('the SDK and the server sign the same token for the same scope and clock', () => {
    const scope = { tasks: ['t-1', 't-2'], agents: ['agent-7'] };
    const sdk = mintViewerToken(KEYS, { ...scope, ttlSeconds: 300 }, () => T0 + 999);
    assert.equal(signViewerToken(ring, scope, 300, T0 + 999).token, sdk);
  });

  test('the SDK signs with the first key, and its header names it', () => {
    const token = mintViewerToken(KEYS, { tasks: ['t-1'] }, () => T0);
    const header = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString());
    assert.deepEqual(header, { alg: 'HS256', typ: 'JWT', kid: 'k2' });
  });

  test('rotation: a token signed by the second (older) key still verifies', () => {
    const old = mintViewerToken(OLD_KEYS, { tasks: ['t-1'] }, () => T0);
    assert.equal(refusalOf(old), 'accepted');
    const byHand = forgeToken({ alg: 'HS256', typ: 'JWT', kid: 'k1' }, claimsAt(T0), SECRET_1);
    assert.equal(refusalOf(byHand), 'accepted');
  });

  test('a token of a key that was removed is refused as unknown_kid', () => {
    const newOnly = viewerKeyRing(parseViewerTokenKeys(`k2:${SECRET_2}`));
    const old = mintViewerToken(OLD_KEYS, { tasks: ['t-1'] }, () => T0);
    assert.deepEqual(verifyViewerToken(old, newOnly, T0), { ok: false, refusal: 'unknown_kid' });
  });

  test('alg none is refused, signed or not', () => {
    const claims = claimsAt(T0);
    assert.equal(
      refusalOf(forgeToken({ alg: 'none', kid: 'k2' }, claims, SECRET_2, 'none')),
      'wrong_algorithm',
    );
    assert.equal(refusalOf(forgeToken({ alg: 'none', kid: 'k2' }, claims, SECRET_2)), 'wrong_algorithm');
    assert.equal(
      refusalOf(forgeToken({ alg: 'HS256', kid: 'k2' }, claims, SECRET_2, 'none')),
      'bad_signature',
    );
  });

  test('HS512, even with the right secret, is refused', () => {
    const token = forgeToken({ alg: 'HS512', typ: 'JWT', kid: 'k2' }, claimsAt(T0), SECRET_2, 'sha512');
    assert.equal(refusalOf(token), 'wrong_algorithm');
  });

  test('an unknown kid, or none, is refused', () => {
    assert.equal(refusalOf(forgeToken({ alg: 'HS256', kid: 'k9' }, claimsAt(T0), SECRET_2)), 'unknown_kid');
    assert.equal(refusalOf(forgeToken({ alg: 'HS256' }, claimsAt(T0), SECRET_2)), 'unknown_kid');
  });

  test('a bad signature is refused: another secret, or claims changed after signing', () => {
    const other = forgeToken(
      { alg: 'HS256', kid: 'k2' },
      claimsAt(T0),
      'a-guessed-secret-of-32-characters-x',
    );
    assert.equal(refusalOf(other), 'bad_signature');
    const [header, , signature] = mintViewerToken(KEYS, { tasks: ['t-1'] }, () => T0).split('.');
    const widened = Buffer.from(JSON.stringify(claimsAt(T0, { agents: ['agent-7'] }))).toString('base64url');
    assert.equal(refusalOf(`${header}.${widened}.${signature}`), 'bad_signature');
  });

  test('a second spelling of the right signature bytes is refused', () => {
    const token = mintViewerToken(KEYS, { tasks: ['t-1'] }, () => T0);
    // 32 bytes are 43 base64url characters; the last carries 2 spare bits.
    const last = token.at(-1)!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const twin = alphabet[alphabet.indexOf(last) ^ 1]!;
    assert.deepEqual(
      Buffer.from(token.slice(token.lastIndexOf('.') + 1, -1) + twin, 'base64url'),
      Buffer.from(token.slice(token.lastIndexOf('.') + 1), 'base64url'),
    );
    assert.equal(refusalOf(token.slice(0, -1) + twin), 'bad_signature');
  });

  test('a wrong audience is refused', () => {
    const token = forgeToken({ alg: 'HS256', kid: 'k2' }, claimsAt(T0, { aud: 'another-service' }), SECRET_2);
    assert.equal(refusalOf(token), 'wrong_audience');
    const none = forgeToken({ alg: 'HS256', kid: 'k2' }, claimsAt(T0, { aud: undefined }), SECRET_2);
    assert.equal(refusalOf(none), 'wrong_audience');
  });

  test('an expired token is refused as expired, from the second its exp is reached', () => {
    const token = mintViewerToken(KEYS, { tasks: ['t-1'], ttlSeconds: 10 }, () => T0);
    assert.equal(refusalOf(token, T0 + 9_999), 'accepted');
    assert.equal(refusalOf(token, T0 + 10_000), 'expired');
  });

  test('iat more than 60 s ahead of the clock is refused; up to 60 s is clock skew', () => {
    const at = (aheadSeconds: number) =>
      forgeToken({ alg: 'HS256', kid: 'k2' }, claimsAt(T0 + aheadSeconds * 1000), SECRET_2);
    assert.equal(refusalOf(at(60)), 'accepted');
    assert.equal(refusalOf(at(61)), 'issued_in_future');
  });

  test('a token signed to live longer than a day (as this server never mints) is refused', () => {
    const lasting = (seconds: number) => {
      const claims = claimsAt(T0);
      return forgeToken(
        { alg: 'HS256', kid: 'k2' },
        { ...claims, exp: (claims.iat as number) + seconds },
        SECRET_2,
      );
    };
    assert.equal(refusalOf(lasting(VIEWER_TOKEN.ttlSeconds.max)), 'accepted');
    assert.equal(refusalOf(lasting(VIEWER_TOKEN.ttlSeconds.max + 1)), 'lives_too_long');
    assert.equal(refusalOf(lasting(10 * 365 * 86_400)), 'lives_too_long');
  });

  test('a token over 16 KiB is refused before anything else is looked at', () => {
    assert.equal(refusalOf('a'.repeat(VIEWER_TOKEN.maxChars + 1)), 'too_long');
    const ids = Array.from({ length: 200 }, (_, i) => `task-${i}-${'x'.repeat(60)}`);
    const big = forgeToken({ alg: 'HS256', kid: 'k2' }, claimsAt(T0, { tasks: ids }), SECRET_2);
    assert.ok(big.length > VIEWER_TOKEN.maxChars);
    assert.equal(refusalOf(big), 'too_long');
  });

  test('more than 256 scope entries, no entry, or an invalid id are refused', () => {
    const signed = (extra: Record<string, unknown>) =>
      refusalOf(forgeToken({ alg: 'HS256', kid: 'k2' }, claimsAt(T0, extra), SECRET_2));
    const ids = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
    assert.equal(signed({ tasks: ids(200, 't'), agents: ids(56, 'a') }), 'accepted');
    assert.equal(signed({ tasks: ids(200, 't'), agents: ids(57, 'a') }), 'bad_scope');
    assert.equal(signed({ tasks: [] }), 'bad_scope');
    assert.equal(signed({ tasks: undefined }), 'bad_scope');
    assert.equal(signed({ tasks: ['../etc'] }), 'bad_scope');
    assert.equal(signed({ agents: 'agent-7' }), 'bad_scope');
  });

  test('shapes that are not a JWT are refused as malformed', () => {
    const good = mintViewerToken(KEYS, { tasks: ['t-1'] }, () => T0);
    for (const token of ['', 'abc', 'a.b', `${good}.x`, good.replace('.', '.+'), '!!.e30.x']) {
      assert.equal(refusalOf(token), 'malformed', token);
    }
    const notJson = `${Buffer.from('{"alg":"HS256","kid":"k2"}').toString('base64url')}.bm90IGpzb24.x`;
    assert.equal(refusalOf(notJson), 'bad_signature');
    const claimsNotObject = forgeToken({ alg: 'HS256', kid: 'k2' }, [] as never, SECRET_2);
    assert.equal(refusalOf(claimsNotObject), 'malformed');
    const noExp = forgeToken({ alg: 'HS256', kid: 'k2' }, claimsAt(T0, { exp: 'soon' }), SECRET_2);
    assert.equal(refusalOf(noExp), 'malformed');
    const critical = forgeToken({ alg: 'HS256', kid: 'k2', crit: ['exp'] }, claimsAt(T0), SECRET_2);
    assert.equal(refusalOf(critical), 'malformed');
  });

  test('the admin token reads everything and never expires; a wrong one is checked as a viewer token', () => {
    const admin = checkReaderToken(ADMIN_TOKEN, ring, ADMIN_TOKEN, T0);
    assert.ok(admin.ok && admin.grant.all && admin.grant.expiresAt === Infinity);
    assert.deepEqual(checkReaderToken(`${ADMIN_TOKEN}x`, ring, ADMIN_TOKEN, T0), {
      ok: false,
      refusal: 'malformed',
    });
    assert.deepEqual(checkReaderToken(ADMIN_TOKEN, ring, null, T0), { ok: false, refusal: 'malformed' });
  });
});
