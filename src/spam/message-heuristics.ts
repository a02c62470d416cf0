// Header and structure heuristics: cheap signs that a message was not written by a mail program a
// person uses. Each is a named test with a score (overridable in [spam] scores), in the manner of
// SpamAssassin's and rspamd's rules; none is strong alone, they add up with the DNS and
// authentication evidence in scanner.ts.
import { isIP } from "node:net";
import { decodeEncodedWords } from "../mail/header-fields.js";
import type { MimePart, ParsedMessage } from "../mail/mime-tree.js";

export interface TestHit {
  readonly name: string;
  /** A few words for the log and the X-Spam-Status header; never message content beyond a domain. */
  readonly detail?: string;
}

const DAY_MS = 24 * 3600_000;

function textParts(part: MimePart, out: string[]): void {
  if (part.encapsulated) return; // an attached message's parts are not this message's body
  if (part.children.length > 0) {
    for (const child of part.children) textParts(child, out);
    return;
  }
  if (part.contentType.type === "text") out.push(part.contentType.subtype);
}

/** The domain of an address written into a display name: "PayPal service@paypal.com" <x@evil.test>. */
function addressInName(name: string): string | null {
  const match = /[A-Za-z0-9._%+-]+@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)/.exec(name);
  return match ? match[1]!.toLowerCase() : null;
}

export function messageHeuristics(parsed: ParsedMessage, now: Date): TestHit[] {
  const hits: TestHit[] = [];
  const envelope = parsed.envelope;
  const from = envelope.from?.find((a) => a.host !== null) ?? null;
  if (from === null) hits.push({ name: "MISSING_FROM" });
  if (envelope.date === null) hits.push({ name: "MISSING_DATE" });
  else {
    const date = Date.parse(envelope.date);
    if (Number.isNaN(date)) hits.push({ name: "INVALID_DATE" });
    else if (date - now.getTime() > DAY_MS) hits.push({ name: "DATE_IN_FUTURE" });
  }
  if (envelope.messageId === null) hits.push({ name: "MISSING_MESSAGE_ID" });
  if (envelope.subject === null || envelope.subject.trim() === "") hits.push({ name: "MISSING_SUBJECT" });
  else {
    const subject = decodeEncodedWords(envelope.subject);
    const letters = subject.replace(/[^\p{L}]/gu, "");
    if (letters.length >= 10 && letters === letters.toUpperCase() && letters !== letters.toLowerCase()) hits.push({ name: "SUBJECT_ALL_CAPS" });
  }
  if (from?.name) {
    const named = addressInName(decodeEncodedWords(from.name));
    const actual = (from.host ?? "").toLowerCase();
    if (named !== null && named !== actual && !actual.endsWith(`.${named}`)) hits.push({ name: "FROM_NAME_OTHER_ADDRESS", detail: named });
  }
  const subtypes: string[] = [];
  textParts(parsed.root, subtypes);
  if (subtypes.includes("html") && !subtypes.includes("plain")) hits.push({ name: "HTML_ONLY" });
  // The decoded body text (the search text after the top-level header's part): nothing to read,
  // or little besides links, is how image-and-link spam looks once its tags are gone.
  const body = parsed.searchText.slice(parsed.searchTextHeadLength ?? parsed.searchText.length).trim();
  const links = body.match(/https?:\/\/\S+/g) ?? [];
  const words = body.replace(/https?:\/\/\S+/g, " ").match(/[\p{L}\p{N}]{2,}/gu) ?? [];
  if (body === "") hits.push({ name: "EMPTY_BODY" });
  else if (links.length > 0 && words.length < 5 * links.length && words.length < 20) hits.push({ name: "BODY_MOSTLY_LINKS", detail: `${links.length} link(s), ${words.length} word(s)` });
  return hits;
}

/**
 * HELO/EHLO (RFC 5321 §4.1.1.1: the client's fully qualified domain name, or an address literal
 * in brackets). Bots send bare words, bare IP addresses, or our own name to look local.
 */
export function heloHeuristics(helo: string | null, ourHostname: string | null): TestHit[] {
  if (helo === null) return [];
  const name = helo.trim().toLowerCase().replace(/\.$/, "");
  if (name.startsWith("[") && name.endsWith("]")) return [];
  if (isIP(name) !== 0) return [{ name: "HELO_BARE_IP" }];
  if (ourHostname !== null && name === ourHostname.toLowerCase()) return [{ name: "HELO_FORGED_OURS", detail: name }];
  if (!name.includes(".")) return [{ name: "HELO_NOT_FQDN", detail: name.slice(0, 64) }];
  return [];
}
