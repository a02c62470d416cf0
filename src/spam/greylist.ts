// Greylisting (RFC 6647): mail from an unknown (client network, sender, recipient) triplet is
// refused with a 4xx once; a real MTA retries after a few minutes and gets through, most spam
// software never retries. Costs legitimate mail a delay, so it is per domain and opt-in, applies
// only to port 25, never to authenticated mail (DKIM or DMARC pass), and a client that retried
// correctly is let through at once for weeks (auto-whitelisting).
import { isIP } from "node:net";
import { reversedAddress } from "./dns-lists.js";

/**
 * The client's network as greylisting sees it: big senders retry from another address of the same
 * pool, so IPv4 is keyed by its /24 and IPv6 by its /64 (as postgrey and rspamd do).
 */
export function greylistNetwork(ip: string): string {
  const bare = ip.startsWith("::ffff:") && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
  if (isIP(bare) === 4) return `${bare.split(".").slice(0, 3).join(".")}.0/24`;
  const nibbles = reversedAddress(bare);
  if (nibbles === null) return bare;
  const digits = nibbles.split(".").reverse().join("");
  return `${digits.slice(0, 16).replace(/(.{4})/g, "$1:")}:/64`;
}

export function greylistTriplet(ip: string, mailFrom: string, recipient: string): string {
  return `${greylistNetwork(ip)}|${mailFrom.toLowerCase()}|${recipient.toLowerCase()}`;
}

/** The auto-whitelist key: the client network and the sender's domain ("" for the null sender). */
export function greylistSender(ip: string, mailFrom: string): string {
  return `${greylistNetwork(ip)}|${mailFrom.slice(mailFrom.lastIndexOf("@") + 1).toLowerCase()}`;
}

/** Whether the domain of `recipient` is greylisted by the `greylist_domains` setting ("*": all). */
export function greylistedDomain(domains: readonly string[], recipient: string): boolean {
  if (domains.length === 0) return false;
  if (domains.includes("*")) return true;
  const domain = recipient.slice(recipient.lastIndexOf("@") + 1).toLowerCase();
  return domains.some((d) => d.toLowerCase() === domain);
}
