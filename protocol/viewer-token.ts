// Zod-free and crypto-free on purpose: the server and the SDK (sdk/viewer-token.ts, node:crypto
// only) both read the format from here, so the side that mints and the side that checks cannot
// disagree.
import { ID_PATTERN } from './constants.js';

/**
 * Viewer tokens (issue 13): a JWT signed with HS256 under a key named by `kid`, scoped to task ids
 * and agent ids. Header `{"alg":"HS256","typ":"JWT","kid":"<kid>"}`, claims ViewerTokenClaims.
 */
export const VIEWER_TOKEN = {
  audience: 'agent-task-status',
  /** Longest token accepted anywhere (an authorize message, a bearer header). */
  maxChars: 16 * 1024,
  /** Task ids plus agent ids one token may name. */
  maxScopeEntries: 256,
  ttlSeconds: { min: 10, max: 86_400, default: 900 },
  /** How far `iat` may lie ahead of the server's clock (clock skew between minter and server). */
  iatLeewaySeconds: 60,
} as const;

/** The claims of a viewer token; times in seconds since the epoch (RFC 7519 NumericDate). */
export interface ViewerTokenClaims {
  aud: typeof VIEWER_TOKEN.audience;
  tasks?: string[];
  agents?: string[];
  iat: number;
  exp: number;
}

/** One entry of VIEWER_TOKEN_KEYS. The secret's UTF-8 bytes are the HMAC key. */
export interface ViewerTokenKey {
  kid: string;
  secret: string;
}

const KID = /^[A-Za-z0-9_-]{1,32}$/;
/** The bearer alphabet (RFC 6750 b64token), so a secret pastes into an env file unquoted. */
const SECRET = /^[A-Za-z0-9\-._~+/]{32,512}=*$/;

export const VIEWER_TOKEN_KEYS_RULE =
  'must be a comma list of kid:secret, kid 1-32 characters of A-Z a-z 0-9 _ -, secret 32-512 characters of A-Z a-z 0-9 - . _ ~ + /';

/**
 * The keys of a VIEWER_TOKEN_KEYS value, first (the signing key) first. Throws an Error naming the
 * entry at fault by position and kid, never by secret.
 */
export function parseViewerTokenKeys(list: string): ViewerTokenKey[] {
  const entries = list
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (entries.length === 0) throw new Error(`${VIEWER_TOKEN_KEYS_RULE}; it names no key`);
  const keys: ViewerTokenKey[] = [];
  entries.forEach((entry, i) => {
    const colon = entry.indexOf(':');
    const kid = colon < 0 ? '' : entry.slice(0, colon);
    const secret = colon < 0 ? '' : entry.slice(colon + 1);
    if (!KID.test(kid)) throw new Error(`${VIEWER_TOKEN_KEYS_RULE}; entry ${i + 1} has no valid kid`);
    if (!SECRET.test(secret)) {
      throw new Error(`${VIEWER_TOKEN_KEYS_RULE}; the secret of kid "${kid}" is not one`);
    }
    if (keys.some((key) => key.kid === kid)) {
      throw new Error(`${VIEWER_TOKEN_KEYS_RULE}; kid "${kid}" appears twice`);
    }
    keys.push({ kid, secret });
  });
  return keys;
}

/**
 * What is wrong with a token's scope, or null: `tasks` and `agents` (each optional) are lists of
 * valid ids, at least one and at most VIEWER_TOKEN.maxScopeEntries in all.
 */
export function scopeProblem(scope: { tasks?: unknown; agents?: unknown }): string | null {
  let count = 0;
  for (const field of ['tasks', 'agents'] as const) {
    const ids = scope[field];
    if (ids === undefined) continue;
    if (!Array.isArray(ids)) return `${field} must be a list of ids`;
    const bad = ids.findIndex((id) => typeof id !== 'string' || !ID_PATTERN.test(id));
    if (bad >= 0) return `${field}[${bad}] is not a valid id`;
    count += ids.length;
  }
  if (count === 0) return 'name at least one task or agent';
  if (count > VIEWER_TOKEN.maxScopeEntries) {
    return `name at most ${VIEWER_TOKEN.maxScopeEntries} tasks and agents in all (got ${count})`;
  }
  return null;
}
