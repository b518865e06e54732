import { createHash, hash, randomBytes, timingSafeEqual } from 'node:crypto';

/** RFC 6750 §2.1: `Bearer` then a b64token. Bounded so we never hash a huge header value. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]{1,512}=*) *$/i;

/**
 * The token of an `Authorization: Bearer <token>` header: `missing` without the header,
 * `malformed` when it is not a bearer token.
 */
export function readBearerToken(header: string | undefined): string | 'missing' | 'malformed' {
  if (header === undefined || header.trim() === '') return 'missing';
  return BEARER.exec(header)?.[1] ?? 'malformed';
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
