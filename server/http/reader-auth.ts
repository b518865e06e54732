import type { Context } from 'hono';
import { ROUTES, VIEWER_TOKEN } from '../../protocol/index.js';
import type { TokenRefusal, ViewerKeyRing } from '../viewer-tokens/jwt.js';
import { checkReaderToken } from '../viewer-tokens/reader-token.js';
import { coversAgent, coversTask, type ViewerGrant } from '../viewer-tokens/scope.js';
import type { AbuseLimits } from './abuse-limits.js';
import { ApiError } from './api-error.js';
import { CHALLENGE, INVALID_TOKEN } from './auth.js';
import { readBearerToken } from './credentials.js';

const TOKEN_EXPIRED = {
  'WWW-Authenticate':
    'Bearer realm="agent-task-status", error="invalid_token", error_description="token expired"',
};

const HOW_TO_GET_ONE = `your backend mints one with POST ${ROUTES.viewerTokens} (admin token) or mintViewerToken() of sdk/viewer-token.ts`;

/** What was wrong with a refused viewer token, for the operator wiring up a backend. */
const REFUSAL_REASONS: Record<Exclude<TokenRefusal, 'expired'>, string> = {
  too_long: `it is longer than ${VIEWER_TOKEN.maxChars} characters`,
  malformed: 'it is not a viewer token (a JWT of three base64url parts with the documented claims)',
  wrong_algorithm: 'its alg is not HS256',
  unknown_kid: 'its kid names no key of VIEWER_TOKEN_KEYS',
  bad_signature: 'its signature does not match its key',
  wrong_audience: `its aud is not "${VIEWER_TOKEN.audience}"`,
  issued_in_future: `its iat is more than ${VIEWER_TOKEN.iatLeewaySeconds} s ahead of the server's clock`,
  lives_too_long: `its exp is more than ${VIEWER_TOKEN.ttlSeconds.max} s after its iat (the longest this server mints)`,
  bad_scope: `its tasks and agents are not 1 to ${VIEWER_TOKEN.maxScopeEntries} valid ids`,
};

/**
 * Who may read, over HTTP (issue 13). Without VIEWER_TOKEN_KEYS reads are public and a sent token is
 * ignored. With it, a GET of status, logs or active-task carries `Authorization: Bearer <token>`,
 * a viewer token or the admin token. A refused token spends from the address's
 * BAD_TOKENS_PER_MINUTE budget, as a refused admin or agent token does; an expired one does not
 * (an honest viewer's token expires all the time, and only a token the server signed can expire).
 */
export class ReaderAuth {
  constructor(
    private readonly ring: ViewerKeyRing | null,
    private readonly adminToken: string | null,
    private readonly limits: AbuseLimits,
    private readonly now: () => number,
  ) {}

  /** The reader's grant; null when reads are public. Throws 429, or 401 with a challenge. */
  async grantOf(c: Context): Promise<ViewerGrant | null> {
    if (this.ring === null) return null;
    const client = this.limits.clientKey(c);
    await this.limits.checkAuthBudget(client);
    const token = readBearerToken(c.req.header('authorization'), VIEWER_TOKEN.maxChars);
    if (token === 'missing') {
      throw new ApiError(
        401,
        'unauthorized',
        `reading this server needs a viewer token: send "Authorization: Bearer <token>"; ${HOW_TO_GET_ONE}`,
        { headers: CHALLENGE },
      );
    }
    if (token === 'malformed') {
      throw new ApiError(401, 'unauthorized', 'the Authorization header must be "Bearer <viewer token>"', {
        headers: CHALLENGE,
      });
    }
    const checked = checkReaderToken(token, this.ring, this.adminToken, this.now());
    if (checked.ok) return checked.grant;
    if (checked.refusal === 'expired') {
      throw new ApiError(401, 'token_expired', `this viewer token has expired; ${HOW_TO_GET_ONE}`, {
        headers: TOKEN_EXPIRED,
      });
    }
    await this.limits.recordAuthFailure(client);
    throw new ApiError(
      401,
      'unauthorized',
      `this viewer token is not valid for this server: ${REFUSAL_REASONS[checked.refusal]}; ${HOW_TO_GET_ONE}`,
      { headers: INVALID_TOKEN },
    );
  }
}

/**
 * 403 unless `grant` covers the task. `agentId`: the stored task's agent, undefined when there is
 * no such task, so a task that does not exist is a 403 like one that is not covered (no way to
 * learn which ids exist) unless the token names it, whose holder then gets the 404.
 */
export function requireTaskCovered(
  grant: ViewerGrant | null,
  taskId: string,
  agentId: string | undefined,
): void {
  if (grant === null || coversTask(grant, taskId, agentId)) return;
  throw new ApiError(
    403,
    'forbidden',
    `this viewer token does not cover task "${taskId}"; mint one naming the task or its agent`,
  );
}

/** 403 unless `grant` covers the agent (names it in `agents`). */
export function requireAgentCovered(grant: ViewerGrant | null, agentId: string): void {
  if (grant === null || coversAgent(grant, agentId)) return;
  throw new ApiError(
    403,
    'forbidden',
    `this viewer token does not cover agent "${agentId}"; mint one naming the agent in agents`,
  );
}
