import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import {
  scopeProblem,
  VIEWER_TOKEN,
  type ViewerTokenClaims,
  type ViewerTokenKey,
} from '../../protocol/index.js';
import type { ViewerGrant } from './scope.js';

/**
 * Viewer tokens as JWTs (RFC 7519), HS256 only, with node:crypto rather than hono/jwt: hono's
 * verify reads Date.now() itself (no injected clock for tests), allows no skew on `iat`, and
 * leaves choosing the key by `kid` to us anyway. Pure: the clock is an argument.
 */

/** The verifying keys by kid, and the signing key (the first of VIEWER_TOKEN_KEYS). */
export interface ViewerKeyRing {
  readonly signer: { kid: string; key: KeyObject };
  readonly byKid: ReadonlyMap<string, KeyObject>;
}

export function viewerKeyRing(keys: readonly ViewerTokenKey[]): ViewerKeyRing {
  const byKid = new Map(keys.map(({ kid, secret }) => [kid, createSecretKey(Buffer.from(secret, 'utf8'))]));
  const first = keys[0];
  if (!first) throw new Error('a viewer key ring needs at least one key');
  return { signer: { kid: first.kid, key: byKid.get(first.kid)! }, byKid };
}

/** Why a token was refused. `expired` is the only refusal of a token this server once accepted. */
export type TokenRefusal =
  | 'too_long'
  | 'malformed'
  | 'wrong_algorithm'
  | 'unknown_kid'
  | 'bad_signature'
  | 'wrong_audience'
  | 'issued_in_future'
  | 'lives_too_long'
  | 'bad_scope'
  | 'expired';

export type TokenCheck = { ok: true; grant: ViewerGrant } | { ok: false; refusal: TokenRefusal };

/** A whole base64url segment (no padding), as JWS compact serialization has them. */
const SEGMENT = /^[A-Za-z0-9_-]+$/;

/**
 * Checks a viewer token against the key ring at `nowMs`, in an order that tells a forger nothing
 * it did not know: the shape and header first, then the signature (constant time), and only then
 * what the signed claims say, so `expired` is only ever said of a token the server signed.
 */
export function verifyViewerToken(token: string, ring: ViewerKeyRing, nowMs: number): TokenCheck {
  if (token.length > VIEWER_TOKEN.maxChars) return refused('too_long');
  const parts = token.split('.');
  if (parts.length !== 3) return refused('malformed');
  const [headerPart, claimsPart, signaturePart] = parts as [string, string, string];
  // An empty signature is let through to the header check, which refuses `alg: none` by name.
  if (!SEGMENT.test(headerPart) || !SEGMENT.test(claimsPart) || !/^[A-Za-z0-9_-]*$/.test(signaturePart)) {
    return refused('malformed');
  }

  const header = decodeJson(headerPart);
  if (header === null) return refused('malformed');
  // Only HS256: "none", other HMAC sizes and public-key algorithms are refused outright, so a
  // token cannot choose how it is checked (RFC 8725 §2.1, §3.1).
  if (header.alg !== 'HS256') return refused('wrong_algorithm');
  if (header.typ !== undefined && header.typ !== 'JWT') return refused('malformed');
  // A critical extension we do not understand must be refused (RFC 7515 §4.1.11).
  if (header.crit !== undefined) return refused('malformed');
  const key = typeof header.kid === 'string' ? ring.byKid.get(header.kid) : undefined;
  if (!key) return refused('unknown_kid');

  // Compared as text, so a second spelling of the same bytes (base64url's spare low bits) is refused.
  const expected = Buffer.from(hs256(key, `${headerPart}.${claimsPart}`), 'latin1');
  const presented = Buffer.from(signaturePart, 'latin1');
  if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
    return refused('bad_signature');
  }

  const claims = decodeJson(claimsPart);
  if (claims === null) return refused('malformed');
  if (claims.aud !== VIEWER_TOKEN.audience) return refused('wrong_audience');
  const { iat, exp } = claims;
  if (typeof iat !== 'number' || !Number.isFinite(iat) || typeof exp !== 'number' || !Number.isFinite(exp)) {
    return refused('malformed');
  }
  if (iat * 1000 > nowMs + VIEWER_TOKEN.iatLeewaySeconds * 1000) return refused('issued_in_future');
  // A token cannot be revoked, only outlived: one signed elsewhere (another JWT library, a
  // mistake) for longer than the server would mint is refused rather than trusted for years.
  if (exp - iat > VIEWER_TOKEN.ttlSeconds.max) return refused('lives_too_long');
  if (scopeProblem(claims) !== null) return refused('bad_scope');
  if (exp * 1000 <= nowMs) return refused('expired');
  return {
    ok: true,
    grant: {
      all: false,
      tasks: new Set(claims.tasks as string[] | undefined),
      agents: new Set(claims.agents as string[] | undefined),
      expiresAt: exp * 1000,
    },
  };
}

/** A token for `scope` from the ring's signing key, issued at `nowMs`; and when it expires (ms). */
export function signViewerToken(
  ring: ViewerKeyRing,
  scope: { tasks?: readonly string[] | undefined; agents?: readonly string[] | undefined },
  ttlSeconds: number,
  nowMs: number,
): { token: string; expiresAt: number } {
  const iat = Math.floor(nowMs / 1000);
  const claims: ViewerTokenClaims = { aud: VIEWER_TOKEN.audience, iat, exp: iat + ttlSeconds };
  if (scope.tasks) claims.tasks = [...scope.tasks];
  if (scope.agents) claims.agents = [...scope.agents];
  const header = { alg: 'HS256', typ: 'JWT', kid: ring.signer.kid };
  const signingInput = `${encodeJson(header)}.${encodeJson(claims)}`;
  return { token: `${signingInput}.${hs256(ring.signer.key, signingInput)}`, expiresAt: claims.exp * 1000 };
}

function hs256(key: KeyObject, signingInput: string): string {
  return createHmac('sha256', key).update(signingInput).digest('base64url');
}

function encodeJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

/** The JSON object a segment encodes, or null when it is none. */
function decodeJson(segment: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

function refused(refusal: TokenRefusal): TokenCheck {
  return { ok: false, refusal };
}
