import { secretsEqual } from '../http/credentials.js';
import { verifyViewerToken, type TokenCheck, type ViewerKeyRing } from './jwt.js';
import { ADMIN_GRANT } from './scope.js';

/**
 * A token presented to read (a bearer header, a WebSocket `authorize`): the admin token reads
 * everything, anything else must be a viewer token. One rule for HTTP and the WebSocket. Pure.
 */
export function checkReaderToken(
  token: string,
  ring: ViewerKeyRing,
  adminToken: string | null,
  nowMs: number,
): TokenCheck {
  if (adminToken !== null && secretsEqual(token, adminToken)) return { ok: true, grant: ADMIN_GRANT };
  return verifyViewerToken(token, ring, nowMs);
}
