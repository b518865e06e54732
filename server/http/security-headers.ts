import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from './app-env.js';

/**
 * The demo page's Content Security Policy: only this server's own scripts, styles and connections
 * (`'self'` covers the same host's ws:/wss: too, CSP3 §6.7.2.9). No inline script or style is
 * needed: Vite emits the page's script and stylesheet as files, and the widget styles itself
 * through constructed stylesheets and `element.style`, which a CSP does not restrict. The favicon
 * is `data:,`. Nothing may frame the page, and it has no forms or plugins.
 */
export const DEMO_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * On every answer: `nosniff`, so a browser never runs a JSON body or a log line as a script or a
 * page; `no-referrer`, because nothing here reads a Referer and the demo's requests have no reason
 * to tell anyone which page made them (the browsers' default, strict-origin-when-cross-origin,
 * would still send the origin). Each HTML page (the demo) also gets DEMO_CSP.
 */
export const securityHeaders: MiddlewareHandler<AppEnv> = async function securityHeaders(c, next) {
  await next();
  const headers = c.res.headers;
  headers.set('X-Content-Type-Options', 'nosniff');
  headers.set('Referrer-Policy', 'no-referrer');
  if (headers.get('content-type')?.startsWith('text/html')) headers.set('Content-Security-Policy', DEMO_CSP);
};
