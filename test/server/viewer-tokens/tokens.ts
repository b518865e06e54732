// Shared by the viewer-token tests: keys, a fixed clock, and a hand-rolled JWT encoder for the
// tokens no honest minter makes (alg none, HS512, a wrong audience...).
import { createHmac } from 'node:crypto';

export const SECRET_1 = 'first-secret-of-at-least-32-characters';
export const SECRET_2 = 'second-secret-of-at-least-32-characters';
/** Two keys: `k2` signs (it is first), `k1` still verifies: the middle of a rotation. */
export const KEYS = `k2:${SECRET_2},k1:${SECRET_1}`;
export const OLD_KEYS = `k1:${SECRET_1}`;
export const ADMIN_TOKEN = 'an-admin-token-of-some-length';

/** A fixed instant (2030-01-01), so no test depends on today's date. */
export const T0 = Date.parse('2030-01-01T00:00:00.000Z');

/** A clock the test moves by hand. */
export function manualClock(start = T0) {
  let now = start;
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}

/** A JWT of any header and claims, signed HS256 (or HS512) with `secret`, or unsigned. */
export function forgeToken(
  header: Record<string, unknown>,
  claims: Record<string, unknown>,
  secret: string,
  hash: 'sha256' | 'sha512' | 'none' = 'sha256',
): string {
  const input = `${encode(header)}.${encode(claims)}`;
  const signature = hash === 'none' ? '' : createHmac(hash, secret).update(input).digest('base64url');
  return `${input}.${signature}`;
}

/** Valid claims for the fixed clock, scope overridable. */
export function claimsAt(nowMs: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const iat = Math.floor(nowMs / 1000);
  return { aud: 'agent-task-status', tasks: ['task-1'], iat, exp: iat + 900, ...extra };
}

function encode(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}
