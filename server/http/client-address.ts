import { BlockList, isIP } from 'node:net';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context } from 'hono';

/** What a request has no socket address for (app.request() in tests): one shared key. */
export const UNKNOWN_ADDRESS = 'unknown';

/** An IP address or a CIDR block: `10.0.0.7`, `10.0.0.0/8`, `::1`, `fd00::/8`. */
export function isAddressOrBlock(entry: string): boolean {
  const [address = '', prefix, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

/** TRUSTED_PROXIES as a set to test addresses against; null when the list is empty. */
export function trustedProxies(entries: readonly string[]): BlockList | null {
  if (entries.length === 0) return null;
  const list = new BlockList();
  for (const entry of entries) {
    const [address = '', prefix] = entry.split('/');
    const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(prefix), type);
  }
  return list;
}

/**
 * The address a request came from: the socket's peer, or, when that peer is a trusted proxy, the
 * nearest address in `X-Forwarded-For` that is not one (read from the right: each proxy appends
 * the peer it saw, and anything left of the first untrusted hop was written by the client).
 */
export function clientAddress(c: Context, proxies: BlockList | null): string {
  if (!(c.env as { incoming?: unknown } | undefined)?.incoming) return UNKNOWN_ADDRESS;
  return peerClientAddress(getConnInfo(c).remote.address, c.req.header('x-forwarded-for'), proxies);
}

/** As clientAddress, from the socket's peer address and the X-Forwarded-For header (a WebSocket upgrade's). */
export function peerClientAddress(
  peer: string | undefined,
  forwardedFor: string | undefined,
  proxies: BlockList | null,
): string {
  if (peer === undefined) return UNKNOWN_ADDRESS;
  let address = plain(peer);
  if (!proxies || !trusted(proxies, address)) return address;
  const hops = forwardedFor?.split(',') ?? [];
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = plain(hops[i]!.trim());
    // A proxy writes addresses; anything else came from further left, so the proxy's word ends here.
    if (isIP(hop) === 0) return address;
    if (!trusted(proxies, hop)) return hop;
    address = hop;
  }
  return address;
}

/**
 * The key a client is limited by: an IPv4 address, or an IPv6 address's /64 (one host commonly
 * holds a whole /64, so counting its addresses one by one would be no limit at all).
 */
export function addressKey(address: string): string {
  if (isIP(address) !== 6) return address;
  return expandIPv6(address).slice(0, 4).join(':') + '::/64';
}

/** `::ffff:1.2.3.4` (an IPv4 peer on a dual-stack socket) as `1.2.3.4`. */
function plain(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1]! : address;
}

function trusted(proxies: BlockList, address: string): boolean {
  return proxies.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
}

/** The eight 16-bit groups of an IPv6 address, `::` filled in, lower case, without leading zeros. */
function expandIPv6(address: string): string[] {
  const [head = '', tail] = address.toLowerCase().split('::');
  const groups = (part: string | undefined) => (part ? part.split(':') : []);
  const left = groups(head);
  const right = groups(tail);
  const missing = 8 - left.length - right.length;
  const all =
    tail === undefined ? left : [...left, ...Array<string>(Math.max(0, missing)).fill('0'), ...right];
  return all.map((group) => (group.includes('.') ? group : String(parseInt(group, 16).toString(16))));
}
