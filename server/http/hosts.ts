/**
 * DNS rebinding defence: the Host header must name this server. A page on an attacker's domain
 * whose DNS is then pointed at this server (127.0.0.1 on a developer's machine, an address on the
 * office network) is same-origin with it as far as the browser knows: it sends
 * `Host: evil.example` with `Origin: http://evil.example`, which origins.ts's same-origin rule
 * would let read, and it may POST as well. Checking Host against names the operator chose closes
 * that: a browser sends one of them only to a server that name resolves to, and the attacker does
 * not control those names. Pure: no I/O, no Hono.
 *
 * Always accepted, because they cannot be rebound:
 * - IP addresses (a page loaded from `http://10.0.0.5:8787` has that address as its origin);
 * - `localhost` and `*.localhost`, which browsers resolve to loopback themselves (RFC 6761 §6.3);
 * - a request without Host: HTTP/1.0, not a browser (and non-browsers can send any Host anyway).
 */
import { isIP } from 'node:net';
import { parseOriginPattern } from './origins.js';

/** The names accepted besides the ones above, or `*`: no check. */
export type HostAllowlist = ReadonlySet<string> | '*';

/** Status 421 Misdirected Request (RFC 9110 §15.5.20): this server does not serve that authority. */
export const HOST_NOT_ALLOWED_STATUS = 421;

const HOST_NAME = /^[a-z0-9-]+(\.[a-z0-9-]+)*\.?$/;
/** A Host header: a name or IPv4 address, or an IPv6 address in brackets; then an optional port. */
const HOST_HEADER = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:\d{1,5})?$/;

/** One ALLOWED_HOSTS entry (lower case): a host name or address without port, or `*`; null: invalid. */
export function parseHostEntry(entry: string): string | '*' | null {
  if (entry === '*') return '*';
  return HOST_NAME.test(entry) || isIP(entry) !== 0 ? withoutTrailingDot(entry) : null;
}

export interface HostSettings {
  /** HOST: the listen address, or a name. */
  host: string;
  allowedHosts: readonly string[];
  allowedOrigins: readonly string[];
}

/**
 * ALLOWED_HOSTS, plus the HOST name and the host names of ALLOWED_ORIGINS: the operator trusts
 * those names already (a page there may read the API), so a Host naming one is no rebinding.
 */
export function hostAllowlist({ host, allowedHosts, allowedOrigins }: HostSettings): HostAllowlist {
  if (allowedHosts.includes('*')) return '*';
  const names = new Set(allowedHosts.map(withoutTrailingDot));
  names.add(withoutTrailingDot(host.toLowerCase()));
  for (const entry of allowedOrigins) {
    const pattern = parseOriginPattern(entry);
    if (pattern !== null && pattern !== '*') names.add(pattern.hostname);
  }
  return names;
}

/** Whether a request carrying this Host header may be answered. */
export function isHostAllowed(hostHeader: string | undefined, allowed: HostAllowlist): boolean {
  if (hostHeader === undefined || allowed === '*') return true;
  const match = HOST_HEADER.exec(hostHeader.trim().toLowerCase());
  if (!match) return false;
  const name = withoutTrailingDot(match[1]!);
  const address = name.startsWith('[') ? name.slice(1, -1) : name;
  if (isIP(address) !== 0) return true;
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  return allowed.has(name);
}

/** The error an HTTP answer or a refused WebSocket upgrade carries for a Host not allowed. */
export function hostNotAllowed(hostHeader: string): { code: 'host_not_allowed'; message: string } {
  const shown = JSON.stringify(hostHeader.slice(0, 100));
  return {
    code: 'host_not_allowed',
    message: `this server does not answer to Host ${shown}: if that is its public name, add the name to ALLOWED_HOSTS (see SECURITY.md)`,
  };
}

/**
 * Whether a listen address or a peer's address is this machine: `localhost`, 127.0.0.0/8, `::1`
 * (and `::ffff:127.x.y.z`, an IPv4 peer on a dual-stack socket).
 */
export function isLoopback(hostOrAddress: string): boolean {
  const address = hostOrAddress.toLowerCase().replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
  if (address === 'localhost' || address === '::1') return true;
  return isIP(address) === 4 && address.startsWith('127.');
}

function withoutTrailingDot(name: string): string {
  return name.endsWith('.') ? name.slice(0, -1) : name;
}
