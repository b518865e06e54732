import type { ErrorBody } from '../../protocol/index.js';
import { isOriginAllowed } from '../http/origins.js';

/**
 * Cross-site WebSocket hijacking defence: browsers always send `Origin` on a WebSocket upgrade and
 * the upgrade is not covered by CORS, so the server must check it. A request without `Origin`
 * comes from a non-browser client (an agent, a CLI), which could forge any header anyway.
 * Returns the error body to answer with (403), or null to accept.
 */
export function checkUpgradeOrigin(
  origin: string | undefined,
  host: string | undefined,
  allowedOrigins: readonly string[],
): ErrorBody | null {
  if (origin === undefined || isOriginAllowed(origin, allowedOrigins, host)) return null;
  return {
    error: {
      code: 'forbidden',
      message: `WebSocket connections from origin "${origin}" are not allowed; add it to ALLOWED_ORIGINS`,
    },
  };
}
