/**
 * Client-IP binding for tokens: the `ip` claim holds one address or a CIDR. Comparison is on
 * parsed addresses (so `2001:db8::1` equals `2001:0db8:0:0:0:0:0:1`), and IPv4-mapped IPv6
 * client addresses (`::ffff:203.0.113.7`, what a dual-stack socket reports) match IPv4 bindings.
 */
import { BlockList, isIP } from 'node:net';

export interface IpBinding {
  readonly list: BlockList;
  readonly family: 'ipv4' | 'ipv6';
}

const MAPPED_V4 = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

/** Strips the IPv4-mapped IPv6 prefix; returns undefined for anything that isn't an IP. */
export function normalizeClientIp(ip: string | undefined): { address: string; family: 'ipv4' | 'ipv6' } | undefined {
  if (typeof ip !== 'string' || ip.length > 64) return undefined;
  const m = MAPPED_V4.exec(ip);
  const address = m ? m[1] : ip;
  const v = isIP(address);
  if (v === 4) return { address, family: 'ipv4' };
  if (v === 6) return { address, family: 'ipv6' };
  return undefined;
}

/** Parses an `ip` claim (address or CIDR); undefined when it isn't one. Never throws. */
export function parseIpBinding(text: unknown): IpBinding | undefined {
  if (typeof text !== 'string') return undefined;
  const slash = text.indexOf('/');
  const addr = normalizeClientIp(slash >= 0 ? text.slice(0, slash) : text);
  if (!addr) return undefined;
  const list = new BlockList();
  if (slash >= 0) {
    const bitsText = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(bitsText)) return undefined;
    const bits = Number(bitsText);
    if (bits > (addr.family === 'ipv4' ? 32 : 128)) return undefined;
    list.addSubnet(addr.address, bits, addr.family);
  } else {
    list.addAddress(addr.address, addr.family);
  }
  return { list, family: addr.family };
}

/** Does the client address fall within the binding? Never throws. */
export function ipMatches(binding: IpBinding, clientIp: string | undefined): boolean {
  const c = normalizeClientIp(clientIp);
  if (!c || c.family !== binding.family) return false;
  try {
    return binding.list.check(c.address, c.family);
  } catch {
    return false;
  }
}
