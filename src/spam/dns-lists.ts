// DNS lists (RFC 5782): an address (DNSBL/DNSWL) or a domain (URIBL-style) is looked up as a name
// under the list's zone; an A record in 127.0.0.0/8 means "listed", NXDOMAIN means "not listed".
// A lookup never decides anything alone and never fails the message: a timeout or a broken zone is
// an "error" answer the scanner logs and scores as nothing.
import { isIP } from "node:net";
import { isNegativeAnswer, type DnsResolver } from "../mail-auth/index.js";

export type ListAnswer =
  | { readonly kind: "listed"; readonly codes: readonly string[] }
  | { readonly kind: "not-listed" }
  | { readonly kind: "error"; readonly reason: string };

/**
 * The query name's address part: IPv4 octets reversed ("192.0.2.1" -> "1.2.0.192", RFC 5782
 * §2.1), IPv6 as 32 reversed nibbles (§2.4). Null for anything that is not an IP address.
 */
export function reversedAddress(ip: string): string | null {
  const bare = ip.startsWith("::ffff:") && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
  const family = isIP(bare);
  if (family === 4) return bare.split(".").reverse().join(".");
  if (family !== 6) return null;
  return expandIpv6(bare).split("").reverse().join(".");
}

/** 32 hex digits of an IPv6 address, "::" expanded, an embedded IPv4 tail converted. */
function expandIpv6(ip: string): string {
  let text = ip.toLowerCase();
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const octets = v4[1]!.split(".").map(Number);
    text = `${text.slice(0, v4.index)}${((octets[0]! << 8) | octets[1]!).toString(16)}:${((octets[2]! << 8) | octets[3]!).toString(16)}`;
  }
  const [head, tail] = text.includes("::") ? text.split("::") : [text, null];
  const headGroups = head ? head.split(":") : [];
  const tailGroups = tail ? tail.split(":") : [];
  const missing = 8 - headGroups.length - tailGroups.length;
  const groups = [...headGroups, ...(tail === null ? [] : Array<string>(missing).fill("0")), ...tailGroups];
  return groups.map((g) => g.padStart(4, "0")).join("");
}

/**
 * Return codes some lists use to say "your query was refused", not "listed": Spamhaus answers
 * 127.255.255.252 (typing error in the zone name), .254 (query through a public resolver) and .255
 * (too many queries). Counting those as hits would reject everyone, so they are errors.
 */
const REFUSAL_CODES = new Set(["127.255.255.252", "127.255.255.254", "127.255.255.255"]);

export async function queryDnsList(resolver: DnsResolver, item: string, zone: string, timeoutMs: number): Promise<ListAnswer> {
  const name = `${item}.${zone.replace(/^\.+|\.+$/g, "")}`;
  let timer: NodeJS.Timeout | undefined;
  try {
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: "ETIMEOUT" })), timeoutMs);
    });
    const lookup = resolver(name, "A");
    lookup.catch(() => {}); // a late failure after the deadline is of no interest
    const answers = await Promise.race([lookup, deadline]);
    const refused = answers.find((a) => REFUSAL_CODES.has(a));
    if (refused !== undefined) return { kind: "error", reason: `${zone} refused the query (${refused})` };
    // RFC 5782 §2.3: answers are in 127.0.0.0/8; anything else (a hijacked or wildcarded zone) is
    // not a listing.
    const codes = answers.filter((a) => a.startsWith("127."));
    if (codes.length === 0) return { kind: "error", reason: `${zone} answered outside 127.0.0.0/8 (${answers.slice(0, 3).join(", ")})` };
    return { kind: "listed", codes };
  } catch (error) {
    if (isNegativeAnswer(error)) return { kind: "not-listed" };
    const code = (error as { code?: unknown }).code;
    return { kind: "error", reason: `${zone}: ${typeof code === "string" ? code : error instanceof Error ? error.message : String(error)}` };
  } finally {
    clearTimeout(timer);
  }
}
