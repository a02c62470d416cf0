// iprev (RFC 8601 §3, "forward-confirmed reverse DNS"): the client address's PTR names are looked
// up forward, and the check passes when one of them resolves back to the address. The result goes
// into Authentication-Results as `iprev=<result> policy.iprev=<address>` and feeds the spam score.
import { isIP } from "node:net";
import { isNegativeAnswer, type DnsResolver } from "../mail-auth/index.js";
import { reversedAddress } from "./dns-lists.js";

export interface IprevResult {
  /** RFC 8601 §2.7.3: pass, fail (no PTR, or no name maps back), temperror (DNS trouble). */
  readonly result: "pass" | "fail" | "temperror" | "permerror";
  /** The confirmed name on pass; the first PTR name otherwise (null if there was none). */
  readonly hostname: string | null;
}

/**
 * RFC 8601 §3 leaves the bound to the receiver; a client with dozens of PTR records is either
 * broken or trying to make us work. Postfix and rspamd look at the first few only, so do we.
 */
const MAX_PTR_NAMES = 10;

function reverseZoneName(ip: string): string | null {
  const reversed = reversedAddress(ip);
  if (reversed === null) return null;
  const bare = ip.startsWith("::ffff:") && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
  return `${reversed}.${isIP(bare) === 4 ? "in-addr.arpa" : "ip6.arpa"}`;
}

function sameAddress(a: string, b: string): boolean {
  return (reversedAddress(a) ?? a) === (reversedAddress(b) ?? b);
}

async function withDeadline<T>(work: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  work.catch(() => {});
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(Object.assign(new Error("timeout"), { code: "ETIMEOUT" })), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export async function checkIprev(resolver: DnsResolver, ip: string, timeoutMs: number): Promise<IprevResult> {
  const reverseName = reverseZoneName(ip);
  if (reverseName === null) return { result: "permerror", hostname: null };
  let names: string[];
  try {
    names = (await withDeadline(resolver(reverseName, "PTR"), timeoutMs)).slice(0, MAX_PTR_NAMES);
  } catch (error) {
    return { result: isNegativeAnswer(error) ? "fail" : "temperror", hostname: null };
  }
  if (names.length === 0) return { result: "fail", hostname: null };
  const bare = ip.startsWith("::ffff:") && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
  const rrtype = isIP(bare) === 4 ? "A" : "AAAA";
  let transient = false;
  const lookups = await Promise.all(
    names.map(async (name) => {
      try {
        return { name, addresses: await withDeadline(resolver(name, rrtype), timeoutMs) };
      } catch (error) {
        if (!isNegativeAnswer(error)) transient = true;
        return { name, addresses: [] as string[] };
      }
    }),
  );
  const confirmed = lookups.find((l) => l.addresses.some((a) => sameAddress(a, bare)));
  if (confirmed) return { result: "pass", hostname: confirmed.name.replace(/\.$/, "").toLowerCase() };
  // RFC 8601 §3: when no name confirms but some lookup failed temporarily, the answer might have
  // been pass: temperror, not fail.
  return { result: transient ? "temperror" : "fail", hostname: names[0]!.replace(/\.$/, "").toLowerCase() };
}
