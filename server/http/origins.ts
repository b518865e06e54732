/**
 * The origin allowlist shared by CORS (read routes, the widget file) and the WebSocket upgrade's
 * Origin check: one ALLOWED_ORIGINS for both, so a host page allowed to read is allowed to
 * subscribe too. Pure: no I/O, no Hono.
 *
 * An entry is one of
 * - an exact origin: `https://dash.example.com`, `http://localhost:5173` (default ports may be
 *   written or left out: `https://x.com:443` equals `https://x.com`);
 * - an origin with a port wildcard: `http://localhost:*` (any port, including the default one);
 * - `*`: any origin.
 * Same-origin requests (the Origin's host equals the request's Host) are always allowed, so the
 * server's own demo page works whatever the list says.
 */

export interface OriginPattern {
  /** `http:` or `https:` (URL.protocol form). */
  protocol: string;
  /** Lower-case host name, IPv6 in brackets (URL.hostname form). */
  hostname: string;
  /** `''` for the scheme's default port, digits, or `*` for any port. */
  port: string;
}

const PATTERN = /^(https?:\/\/[^/?#@\s]+?)(:\*)?$/i;
const HOST_NAME = /^([a-z0-9-]+(\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])$/;

/** Parses one allowlist entry; null when it is not a valid entry (config.ts reports it). */
export function parseOriginPattern(entry: string): OriginPattern | '*' | null {
  const trimmed = entry.trim();
  if (trimmed === '*') return '*';
  const match = PATTERN.exec(trimmed);
  if (!match) return null;
  const base = match[1]!;
  const anyPort = match[2] !== undefined;
  // `http://x:80:*` is nonsense: a wildcard replaces the port, it does not follow one.
  if (anyPort && /:\d*$/.test(base)) return null;
  const url = parseUrl(base);
  if (!url || url.username || url.password || url.pathname !== '/') return null;
  // URL accepts `*.example.com` as a host name; we have no subdomain wildcards, so say so early.
  if (!HOST_NAME.test(url.hostname)) return null;
  return { protocol: url.protocol, hostname: url.hostname, port: anyPort ? '*' : url.port };
}

/**
 * Whether a browser request carrying `origin` may read our responses (or open the WebSocket).
 * `requestHost` is the request's Host header, for the same-origin rule; pass null to skip it.
 * A missing or opaque origin (`null`, `file://`) is refused: only listed or same origins pass.
 */
export function isOriginAllowed(
  origin: string | null | undefined,
  allowed: readonly string[],
  requestHost?: string | null,
): boolean {
  if (!origin) return false;
  const url = parseUrl(origin);
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) return false;
  if (requestHost && isSameHost(url, requestHost)) return true;
  return allowed.some((entry) => {
    const pattern = parseOriginPattern(entry);
    if (pattern === null) return false;
    if (pattern === '*') return true;
    return (
      pattern.protocol === url.protocol &&
      pattern.hostname === url.hostname &&
      (pattern.port === '*' || pattern.port === url.port)
    );
  });
}

function isSameHost(origin: URL, requestHost: string): boolean {
  // The Host header carries no scheme; read it with the origin's so default ports compare equal.
  const host = parseUrl(`${origin.protocol}//${requestHost}`);
  return host !== null && host.hostname === origin.hostname && host.port === origin.port;
}

function parseUrl(text: string): URL | null {
  try {
    return new URL(text);
  } catch {
    return null;
  }
}
