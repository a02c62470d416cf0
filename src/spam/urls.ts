// Host names of the links in a message, for URIBL-style lists (RFC 5782 §2.2 lists domains). The
// raw bytes are scanned, not the search text, because the search text has HTML tags removed and
// with them every href. Bounded: the first `maxBytes` of the message and `maxDomains` distinct
// domains; a link split by a quoted-printable soft line break inside its host name is missed
// (a miss, never a false hit).
import type { Readable } from "node:stream";

const URL_HOST = /\bhttps?:\/\/(?:[^\s/?#@"'<>]*@)?([A-Za-z0-9](?:[A-Za-z0-9-]{0,62}\.)+[A-Za-z]{2,63})\b/gi;
/** Longest URL prefix we must not cut between two chunks. */
const OVERLAP = 512;

/**
 * The registered-domain approximation lists are queried with: the last two labels. Lists such as
 * Spamhaus DBL answer for both the domain and host names below it, so querying the two-label
 * domain finds listings of either; a public-suffix list would be more exact for "co.uk"-style
 * suffixes, where this asks about the suffix itself, which no list lists.
 */
export function listDomain(host: string): string {
  const labels = host.toLowerCase().replace(/\.$/, "").split(".");
  return labels.slice(-2).join(".");
}

export async function linkDomains(source: Readable, options: { maxBytes: number; maxDomains: number }): Promise<string[]> {
  const domains = new Set<string>();
  let seen = 0;
  let carry = "";
  // A match that ends where the text read so far ends may continue in the next chunk ("www.spl"
  // + "it.test"): it is taken only once more text, or the end of the message, follows.
  const collect = (text: string, final: boolean): boolean => {
    for (const match of text.matchAll(URL_HOST)) {
      if (!final && match.index + match[0].length === text.length) continue;
      domains.add(listDomain(match[1]!));
      if (domains.size >= options.maxDomains) return true;
    }
    return false;
  };
  let cut = false;
  try {
    for await (const chunk of source) {
      const text = carry + (chunk as Buffer).toString("latin1");
      seen += (chunk as Buffer).length;
      if (collect(text, false)) return [...domains];
      carry = text.slice(-OVERLAP);
      if (seen >= options.maxBytes) {
        cut = true;
        break;
      }
    }
    // Past max_bytes the text was cut, so a link at the cut is not known whole.
    collect(carry, !cut);
  } finally {
    source.destroy();
  }
  return [...domains];
}
