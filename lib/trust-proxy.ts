/**
 * TRUST_PROXY: which proxies in front of the API may say who the client is (X-Forwarded-For), as
 * Fastify's `trustProxy` takes it. Without it every request's address is the peer's: behind a TLS
 * proxy that is the proxy, and every per-address limit (sign-up, sign-in, dev tokens) would count
 * all customers as one. Never "trust everyone": then any client could pick its own address.
 */
import { isIP } from 'node:net';

/** A number of proxy hops, the proxies' addresses (CIDR ranges, or proxy-addr's names), or false: trust none. */
export type TrustProxy = number | string[] | false;

/** proxy-addr's names for address ranges (Fastify resolves them). */
const RANGE_NAMES = ['loopback', 'linklocal', 'uniquelocal'];

function isAddressOrRange(entry: string): boolean {
  if (RANGE_NAMES.includes(entry)) return true;
  const [address, prefix, ...rest] = entry.split('/');
  const family = isIP(address ?? '');
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  const bits = Number(prefix);
  return /^\d{1,3}$/.test(prefix) && bits <= (family === 4 ? 32 : 128);
}

/**
 * TRUST_PROXY as the API uses it: unset, empty or 0 trusts none; a whole number is how many
 * proxies stand in front (the client is that many hops back); otherwise a comma-separated list
 * of the proxies' addresses or CIDR ranges (`10.0.0.0/8,loopback`). Anything else is refused.
 */
export function trustProxyFrom(raw: string | undefined): TrustProxy {
  const value = raw?.trim() ?? '';
  if (value === '' || value === '0') return false;
  if (/^\d+$/.test(value)) return Number(value);
  const entries = value
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  const wrong = entries.filter((entry) => !isAddressOrRange(entry));
  if (wrong.length > 0 || entries.length === 0)
    throw new Error(
      `TRUST_PROXY must be a number of proxy hops or a comma-separated list of proxy addresses or CIDR ranges, got "${raw}"`,
    );
  return entries;
}
