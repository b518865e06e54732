// For a host's backend: mint the viewer token a page needs to read tasks from the status server,
// with no round trip to it. Needs only node:crypto and the shared format (protocol/viewer-token.ts
// and protocol/constants.ts, both dependency-free), nothing of the server. Hand the token to the
// page; the panel sends it as a bearer header when it polls and in an `authorize` message on the
// WebSocket. Mint a fresh one before it expires: a token cannot be revoked, only outlived.
//
//   const token = mintViewerToken(process.env.VIEWER_TOKEN_KEYS!, { tasks: ['t-42'], ttlSeconds: 600 });
import { createHmac } from 'node:crypto';
import {
  parseViewerTokenKeys,
  scopeProblem,
  VIEWER_TOKEN,
  type ViewerTokenClaims,
} from '../protocol/viewer-token.js';

export interface ViewerTokenScope {
  /** Task ids the token may read. */
  tasks?: readonly string[];
  /** Agent ids: the token reads every task of these agents, and which task each is on. */
  agents?: readonly string[];
  /** Lifetime in seconds, 10 to 86400; default 900. Short, since a token cannot be revoked. */
  ttlSeconds?: number;
}

/**
 * A viewer token for `scope`, signed with the first key of `keys` (the VIEWER_TOKEN_KEYS value the
 * server has, `kid:secret,...`). `now` is a milliseconds clock (tests pin it). Throws a RangeError
 * for a scope the server would refuse.
 */
export function mintViewerToken(keys: string, scope: ViewerTokenScope, now: () => number = Date.now): string {
  const [signer] = parseViewerTokenKeys(keys);
  const problem = scopeProblem(scope);
  if (problem !== null) throw new RangeError(`viewer token scope: ${problem}`);
  const { min, max, default: fallback } = VIEWER_TOKEN.ttlSeconds;
  const ttl = scope.ttlSeconds ?? fallback;
  if (!Number.isInteger(ttl) || ttl < min || ttl > max) {
    throw new RangeError(`viewer token ttlSeconds must be an integer ${min}-${max}, got ${ttl}`);
  }
  const iat = Math.floor(now() / 1000);
  const claims: ViewerTokenClaims = { aud: VIEWER_TOKEN.audience, iat, exp: iat + ttl };
  if (scope.tasks) claims.tasks = [...scope.tasks];
  if (scope.agents) claims.agents = [...scope.agents];
  const signingInput = `${base64url({ alg: 'HS256', typ: 'JWT', kid: signer!.kid })}.${base64url(claims)}`;
  const signature = createHmac('sha256', Buffer.from(signer!.secret, 'utf8'))
    .update(signingInput)
    .digest('base64url');
  const token = `${signingInput}.${signature}`;
  if (token.length > VIEWER_TOKEN.maxChars) {
    throw new RangeError(
      `this scope makes a viewer token of ${token.length} characters, over the ${VIEWER_TOKEN.maxChars} a server accepts; name fewer or shorter ids`,
    );
  }
  return token;
}

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}
