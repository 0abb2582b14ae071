/**
 * What kind of destination an IP address is, for outbound fetches of certificate data (AIA now,
 * CRLs next). A URL inside a certificate is attacker-chosen: without this check `certs repair`
 * could be made to GET a cloud metadata service (169.254.169.254), an admin page on the LAN or a
 * port on this very host. Pure: the caller resolves names and asks about each address.
 */
import { isIPv4, parseIPv6 } from './ip.js';

/** `public` is the only class fetched unless fetch.allowPrivateAddresses is true. */
export type AddressClass =
  | 'public' | 'loopback' | 'private' | 'link-local' | 'multicast' | 'unspecified'
  | 'shared' | 'reserved' | 'broadcast';

const DESCRIPTIONS: Record<Exclude<AddressClass, 'public'>, string> = {
  loopback: 'a loopback address',
  private: 'a private address',
  'link-local': 'a link-local address',
  multicast: 'a multicast address',
  unspecified: 'the unspecified address',
  shared: 'a carrier-grade NAT (shared) address',
  reserved: 'a reserved address',
  broadcast: 'the broadcast address',
};

function v4Class(o: readonly number[]): AddressClass {
  const [a = 0, b = 0, c = 0, d = 0] = o;
  if (a === 0) return a === 0 && b === 0 && c === 0 && d === 0 ? 'unspecified' : 'reserved'; // 0.0.0.0/8 "this network"
  if (a === 127) return 'loopback';
  if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) return 'private'; // RFC 1918
  if (a === 169 && b === 254) return 'link-local';
  if (a === 100 && b >= 64 && b <= 127) return 'shared'; // RFC 6598
  if (a === 192 && b === 0 && c === 0) return 'reserved'; // IETF protocol assignments (RFC 6890)
  if (a === 198 && (b === 18 || b === 19)) return 'reserved'; // benchmarking (RFC 2544)
  if (a >= 224 && a <= 239) return 'multicast';
  if (a === 255 && b === 255 && c === 255 && d === 255) return 'broadcast';
  if (a >= 240) return 'reserved';
  return 'public';
}

function v4Of(hi: number, lo: number): number[] {
  return [hi >> 8, hi & 255, lo >> 8, lo & 255];
}

function v6Class(g: readonly number[]): AddressClass {
  const [g0 = 0, g1 = 0, , , , g5 = 0, g6 = 0, g7 = 0] = g;
  const zeroTo = (n: number): boolean => g.slice(0, n).every((x) => x === 0);
  if (zeroTo(8)) return 'unspecified';
  if (zeroTo(7) && g7 === 1) return 'loopback';
  // IPv4-mapped (::ffff:a.b.c.d) and the deprecated IPv4-compatible (::a.b.c.d): the v4 address is
  // where the packets go, so ::ffff:127.0.0.1 is loopback.
  if (zeroTo(5) && g5 === 0xffff) return v4Class(v4Of(g6, g7));
  if (zeroTo(6)) return 'reserved';
  // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) embed a v4 destination too.
  if (g0 === 0x64 && g1 === 0xff9b && g.slice(2, 6).every((x) => x === 0)) return v4Class(v4Of(g6, g7));
  if (g0 === 0x2002) return v4Class(v4Of(g1, g[2] ?? 0));
  if ((g0 & 0xfe00) === 0xfc00) return 'private'; // ULA fc00::/7
  if ((g0 & 0xffc0) === 0xfe80) return 'link-local'; // fe80::/10
  if ((g0 & 0xffc0) === 0xfec0) return 'private'; // deprecated site-local fec0::/10
  if ((g0 & 0xff00) === 0xff00) return 'multicast';
  if (g0 === 0x2001 && g1 === 0x0db8) return 'reserved'; // documentation
  return 'public';
}

/**
 * The class of an IP address literal (IPv4 dotted quad or IPv6, brackets allowed), or null when
 * `address` is not one.
 */
export function classifyAddress(address: string): AddressClass | null {
  const text = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  if (isIPv4(text)) return v4Class(text.split('.').map(Number));
  const groups = parseIPv6(text);
  return groups ? v6Class(groups) : null;
}

/**
 * Why a fetch of certificate data must not go to `address`, or null when it may (a public
 * address). Not an IP address at all is refused too: callers pass resolved addresses only.
 */
export function refusedDestination(address: string): string | null {
  const cls = classifyAddress(address);
  if (cls === null) return `${JSON.stringify(address)} is not an IP address`;
  return cls === 'public' ? null : `${address} is ${DESCRIPTIONS[cls]}`;
}
