import { createHash, hash, randomBytes, timingSafeEqual } from 'node:crypto';

/** RFC 6750 §2.1: `Bearer` then a b64token. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+(=*)) *$/i;
/** The longest admin, agent or metrics token; bounded so we never hash a huge header value. */
export const BEARER_MAX_CHARS = 512;

/**
 * The token of an `Authorization: Bearer <token>` header: `missing` without the header,
 * `malformed` when it is not a bearer token of at most `maxChars` (a viewer token may be longer
 * than the secrets: it carries its scope).
 */
export function readBearerToken(
  header: string | undefined,
  maxChars = BEARER_MAX_CHARS,
): string | 'missing' | 'malformed' {
  if (header === undefined || header.trim() === '') return 'missing';
  const match = BEARER.exec(header);
  // The bound is on the b64token's characters, its `=` padding aside, as it always was.
  return match === null || match[1]!.length - match[2]!.length > maxChars ? 'malformed' : match[1]!;
}

/** 32 random bytes, base64url: 256 bits, safe in a header without escaping. */
export function newAgentToken(): string {
  return randomBytes(32).toString('base64url');
}

/** What the store keeps instead of the token: a leaked store does not leak working tokens. */
export function hashToken(token: string): string {
  return hash('sha256', token, 'hex');
}

/**
 * Constant-time check of a presented token against a stored hash (TokenVerifier calls it once per
 * token). The one-shot `crypto.hash` to hex, then bytes from Buffer's pool: on Node 20 its 'buffer'
 * output allocates a fresh ArrayBuffer and costs about twice as much.
 */
export function tokenMatchesHash(token: string, tokenHash: string): boolean {
  const presented = Buffer.from(hash('sha256', token, 'hex'), 'hex');
  const stored = Buffer.from(tokenHash, 'hex');
  return presented.length === stored.length && timingSafeEqual(presented, stored);
}

/**
 * Constant-time equality of two secrets of any length: comparing their digests keeps
 * timingSafeEqual's equal-length rule from leaking the secret's length.
 */
export function secretsEqual(presented: string, expected: string): boolean {
  return timingSafeEqual(
    createHash('sha256').update(presented).digest(),
    createHash('sha256').update(expected).digest(),
  );
}
