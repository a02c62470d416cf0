// Envelope addresses: RFC 5321 §4.1.2 Path / Mailbox grammar for MAIL FROM and RCPT TO, with the
// RFC 6531 SMTPUTF8 extensions and IDNA (RFC 5890) domains. Pure: text in, typed value or typed
// error out. The relay policy needs to see tricks a permissive parser would hide (source routes,
// percent hacks, quoted "@"), so those are reported as fields rather than silently normalised.
import { domainToASCII, domainToUnicode } from "node:url";

// RFC 5321 §4.5.3.1.1-3: size limits, counted in octets of the UTF-8 text.
export const MAX_LOCAL_PART_OCTETS = 64;
export const MAX_DOMAIN_OCTETS = 255;
export const MAX_PATH_OCTETS = 256;
// RFC 1035 §2.3.4: a label is at most 63 octets.
const MAX_LABEL_OCTETS = 63;

export interface AddressOptions {
  /** RFC 6531 §3.3: UTF-8 in the local part and domain only when SMTPUTF8 applies. */
  readonly smtputf8?: boolean;
}

export type AddressLiteral =
  | { readonly kind: "ipv4"; readonly address: string }
  | { readonly kind: "ipv6"; readonly address: string };

/** A parsed RFC 5321 Domain or address-literal. */
export interface EnvelopeDomain {
  /** Lower-cased A-label form, or the literal in brackets ("[192.0.2.1]", "[IPv6:2001:db8::1]"). */
  readonly ascii: string;
  /** The U-label form for display and local lookups; equal to `ascii` when there is none. */
  readonly unicode: string;
  readonly literal: AddressLiteral | null;
}

export interface EnvelopeMailbox {
  readonly kind: "mailbox";
  /** The local part's value: a Quoted-string is unquoted and unescaped; case is kept (§2.4). */
  readonly localPart: string;
  /** The local part exactly as written, quotes included. */
  readonly rawLocalPart: string;
  readonly quoted: boolean;
  /** The domain as ASCII (A-label, lower case) or address literal. */
  readonly domain: string;
  readonly unicodeDomain: string;
  readonly addressLiteral: AddressLiteral | null;
  /** Canonical `local@domain`: Dot-string where possible, otherwise minimally quoted. */
  readonly address: string;
  /** RFC 5321 Appendix C source route, lower-cased ASCII domains, outermost first. Ignored for routing. */
  readonly route: readonly string[];
  /** "%" in the local part: the old `user%other@relay` trick (RFC 5321 §3.6.1 lets us refuse it). */
  readonly hasPercentHack: boolean;
  /** "!" in the local part: a UUCP bang path. */
  readonly hasBangPath: boolean;
  /** A Quoted-string local part holding "@", "%" or "!", i.e. something that looks like routing. */
  readonly hasQuotedRouting: boolean;
  /** Non-ASCII text anywhere in the mailbox: needs SMTPUTF8 downstream. */
  readonly utf8: boolean;
}

/** `<>`: RFC 5321 §4.5.5, the null reverse-path of bounces. */
export interface NullPath {
  readonly kind: "null";
}

/** `<Postmaster>` without a domain: RFC 5321 §4.5.1, always accepted as a recipient. */
export interface PostmasterPath {
  readonly kind: "postmaster";
  readonly localPart: string;
  readonly route: readonly string[];
}

export type AddressErrorReason =
  | "missing-brackets"
  | "too-long"
  | "local-part"
  | "local-part-too-long"
  | "domain"
  | "domain-too-long"
  | "address-literal"
  | "route"
  | "utf8-not-permitted"
  | "invalid-utf8";

export interface AddressError {
  readonly kind: "error";
  readonly reason: AddressErrorReason;
  readonly message: string;
}

export type ReversePath = EnvelopeMailbox | NullPath;
export type ForwardPath = EnvelopeMailbox | PostmasterPath;

const ATEXT = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+$/;
// RFC 6531 §3.3: atext =/ UTF8-non-ascii.
const ATEXT_UTF8 = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\u{10FFFF}]+$/u;
const LDH_LABEL = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
const NON_ASCII = /[^\x00-\x7f]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
// WHATWG URL host parsing turns a name whose last label is numeric ("0x7f.1") into an IPv4
// address; no real TLD is numeric (RFC 3696 §2), so such names are refused, not reinterpreted.
const NUMERIC_LABEL = /^(?:[0-9]+|0x[0-9a-f]*)$/;

function fail(reason: AddressErrorReason, message: string): AddressError {
  return { kind: "error", reason, message };
}

function octets(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

/** Parses `<>` or `<[route:]mailbox>` (RFC 5321 §4.1.2 Reverse-path). */
export function parseReversePath(text: string, options: AddressOptions = {}): ReversePath | AddressError {
  if (text === "<>") return { kind: "null" };
  const path = parsePath(text, options, false);
  if (path.kind === "postmaster") return fail("domain", "a reverse-path needs a domain");
  return path;
}

/** Parses `<[route:]mailbox>` or `<Postmaster>` (RFC 5321 §4.1.2 Forward-path, §4.5.1). */
export function parseForwardPath(text: string, options: AddressOptions = {}): ForwardPath | AddressError {
  return parsePath(text, options, true);
}

function parsePath(text: string, options: AddressOptions, allowPostmaster: boolean): ForwardPath | AddressError {
  if (octets(text) > MAX_PATH_OCTETS) return fail("too-long", `path longer than ${MAX_PATH_OCTETS} octets`);
  if (!text.startsWith("<") || !text.endsWith(">") || text.length < 2) {
    return fail("missing-brackets", "a path is written <local@domain>");
  }
  let inner = text.slice(1, -1);
  let route: string[] = [];
  // RFC 5321 §4.1.2: Path = "<" [ A-d-l ":" ] Mailbox ">"; A-d-l = At-domain *( "," At-domain ).
  if (inner.startsWith("@")) {
    const colon = inner.indexOf(":");
    if (colon < 0) return fail("route", "source route without ':'");
    const parsed = parseRoute(inner.slice(0, colon), options);
    if (!Array.isArray(parsed)) return parsed;
    route = parsed;
    inner = inner.slice(colon + 1);
  }
  if (allowPostmaster && inner.toLowerCase() === "postmaster") {
    return { kind: "postmaster", localPart: inner, route };
  }
  const mailbox = parseMailbox(inner, options);
  if (mailbox.kind === "error") return mailbox;
  return { ...mailbox, route };
}

function parseRoute(text: string, options: AddressOptions): string[] | AddressError {
  const route: string[] = [];
  for (const atDomain of text.split(",")) {
    if (!atDomain.startsWith("@")) return fail("route", "each source-route hop is @domain");
    const domain = parseDomainName(atDomain.slice(1), options);
    if (domain.kind === "error") return fail("route", `source route: ${domain.message}`);
    route.push(domain.ascii);
  }
  return route;
}

/** Parses a bare RFC 5321 Mailbox (`local@domain`, no brackets), e.g. an RFC 4954 AUTH= value. */
export function parseMailbox(text: string, options: AddressOptions = {}): EnvelopeMailbox | AddressError {
  if (LONE_SURROGATE.test(text)) return fail("invalid-utf8", "malformed Unicode text");
  if (!options.smtputf8 && NON_ASCII.test(text)) {
    return fail("utf8-not-permitted", "non-ASCII address without SMTPUTF8");
  }
  const split = splitLocalPart(text);
  if (split.kind === "error") return split;
  const { rawLocal, value, quoted, domainText } = split;
  if (octets(rawLocal) > MAX_LOCAL_PART_OCTETS) {
    return fail("local-part-too-long", `local part longer than ${MAX_LOCAL_PART_OCTETS} octets`);
  }
  const domain = parseDomain(domainText, options);
  if (domain.kind === "error") return domain;
  const canonicalLocal = isDotString(value, true) ? value : quoteLocalPart(value);
  return {
    kind: "mailbox",
    localPart: value,
    rawLocalPart: rawLocal,
    quoted,
    domain: domain.ascii,
    unicodeDomain: domain.unicode,
    addressLiteral: domain.literal,
    address: `${canonicalLocal}@${domain.ascii}`,
    route: [],
    hasPercentHack: value.includes("%"),
    hasBangPath: value.includes("!"),
    hasQuotedRouting: quoted && /[@%!]/.test(value),
    utf8: NON_ASCII.test(text),
  };
}

interface SplitMailbox {
  readonly kind: "split";
  readonly rawLocal: string;
  readonly value: string;
  readonly quoted: boolean;
  readonly domainText: string;
}

// RFC 5321 §4.1.2: Local-part = Dot-string / Quoted-string. A Quoted-string may hold "@", so the
// local part ends at the closing quote, not at the first "@".
function splitLocalPart(text: string): SplitMailbox | AddressError {
  if (text.startsWith('"')) {
    const quotedString = readQuotedString(text);
    if (quotedString === null) return fail("local-part", "unterminated or invalid quoted local part");
    const rest = text.slice(quotedString.length);
    if (!rest.startsWith("@")) return fail("local-part", "expected '@' after the quoted local part");
    return { kind: "split", rawLocal: quotedString.raw, value: quotedString.value, quoted: true, domainText: rest.slice(1) };
  }
  const at = text.lastIndexOf("@");
  if (at < 0) return fail("domain", "missing '@domain'");
  const rawLocal = text.slice(0, at);
  if (!isDotString(rawLocal, true)) return fail("local-part", "local part is not a Dot-string");
  return { kind: "split", rawLocal, value: rawLocal, quoted: false, domainText: text.slice(at + 1) };
}

/** Reads a leading RFC 5321 Quoted-string; returns its raw text, length and unescaped value. */
function readQuotedString(text: string): { raw: string; value: string; length: number } | null {
  let value = "";
  for (let i = 1; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '"') return { raw: text.slice(0, i + 1), value, length: i + 1 };
    if (ch === "\\") {
      // quoted-pairSMTP = %d92 %d32-126: a backslash escapes one printable ASCII character.
      const next = text[i + 1];
      if (next === undefined || !isPrintableAscii(next)) return null;
      value += next;
      i++;
      continue;
    }
    // qtextSMTP = %d32-33 / %d35-91 / %d93-126, plus UTF8-non-ascii (RFC 6531 §3.3).
    if (!isPrintableAscii(ch) && ch.charCodeAt(0) < 0x80) return null;
    value += ch;
  }
  return null;
}

function isPrintableAscii(ch: string): boolean {
  const code = ch.charCodeAt(0);
  return code >= 0x20 && code <= 0x7e;
}

function isDotString(text: string, utf8: boolean): boolean {
  if (text === "") return false;
  const atom = utf8 ? ATEXT_UTF8 : ATEXT;
  return text.split(".").every((part) => atom.test(part));
}

function quoteLocalPart(value: string): string {
  return `"${value.replace(/["\\]/g, (ch) => `\\${ch}`)}"`;
}

export type DomainResult = (EnvelopeDomain & { readonly kind: "domain" }) | AddressError;

/** Parses an RFC 5321 Domain or address-literal (as after "@" or in EHLO). */
export function parseDomain(text: string, options: AddressOptions = {}): DomainResult {
  if (text.startsWith("[")) return parseAddressLiteral(text);
  return parseDomainName(text, options);
}

function parseDomainName(text: string, options: AddressOptions): DomainResult {
  if (text === "") return fail("domain", "empty domain");
  if (octets(text) > MAX_DOMAIN_OCTETS) return fail("domain-too-long", `domain longer than ${MAX_DOMAIN_OCTETS} octets`);
  const utf8 = NON_ASCII.test(text);
  if (utf8 && !options.smtputf8) return fail("utf8-not-permitted", "non-ASCII domain without SMTPUTF8");
  let ascii = text.toLowerCase();
  if (utf8 || ascii.includes("xn--")) {
    // RFC 6531 §3.3: sub-domain =/ U-label. domainToASCII applies UTS #46 and rejects bad punycode.
    if (!utf8 && !ascii.split(".").every((label) => LDH_LABEL.test(label))) {
      return fail("domain", `invalid domain name "${text}"`);
    }
    ascii = domainToASCII(text);
    if (ascii === "") return fail("domain", `invalid internationalised domain name "${text}"`);
  }
  const labels = ascii.split(".");
  for (const label of labels) {
    // RFC 5321 §4.1.2: sub-domain = Let-dig [Ldh-str].
    if (!LDH_LABEL.test(label)) return fail("domain", `invalid domain name "${text}"`);
    if (label.length > MAX_LABEL_OCTETS) return fail("domain", `label longer than ${MAX_LABEL_OCTETS} octets`);
  }
  if (ascii.length > MAX_DOMAIN_OCTETS) return fail("domain-too-long", `domain longer than ${MAX_DOMAIN_OCTETS} octets`);
  if (NUMERIC_LABEL.test(labels[labels.length - 1]!)) {
    return fail("domain", "a domain cannot end in a numeric label; use an address literal");
  }
  const unicode = ascii.includes("xn--") ? domainToUnicode(ascii) : ascii;
  return { kind: "domain", ascii, unicode: unicode === "" ? ascii : unicode, literal: null };
}

// RFC 5321 §4.1.3: address-literal = "[" ( IPv4-address-literal / IPv6-address-literal /
// General-address-literal ) "]". No General-address-literal tag other than IPv6 is registered,
// so any other tag is refused.
function parseAddressLiteral(text: string): DomainResult {
  if (!text.endsWith("]") || text.length > 2 + 45 + 5) return fail("address-literal", "malformed address literal");
  const inner = text.slice(1, -1);
  if (/^ipv6:/i.test(inner)) {
    const ipv6 = inner.slice(5);
    if (!isIPv6Address(ipv6)) return fail("address-literal", "malformed IPv6 address literal");
    const address = ipv6.toLowerCase();
    const ascii = `[IPv6:${address}]`;
    return { kind: "domain", ascii, unicode: ascii, literal: { kind: "ipv6", address } };
  }
  if (!isIPv4Address(inner)) return fail("address-literal", "malformed IPv4 address literal");
  const address = inner.split(".").map((part) => String(Number(part))).join(".");
  return { kind: "domain", ascii: `[${address}]`, unicode: `[${address}]`, literal: { kind: "ipv4", address } };
}

// RFC 5321 §4.1.3: IPv4-address-literal = Snum 3("."  Snum); Snum = 1*3DIGIT, 0-255.
export function isIPv4Address(text: string): boolean {
  const parts = text.split(".");
  return parts.length === 4 && parts.every((part) => /^[0-9]{1,3}$/.test(part) && Number(part) <= 255);
}

// RFC 5321 §4.1.3: IPv6-addr = IPv6-full / IPv6-comp / IPv6v4-full / IPv6v4-comp, where "::"
// stands for at least one group of zeros and an embedded IPv4 address takes two groups.
export function isIPv6Address(text: string): boolean {
  if (text.length > 45) return false;
  let groups = 8;
  let body = text;
  const lastColon = text.lastIndexOf(":");
  if (lastColon >= 0 && text.slice(lastColon + 1).includes(".")) {
    if (!isIPv4Address(text.slice(lastColon + 1))) return false;
    groups = 6;
    body = text.slice(0, lastColon + 1);
    // "…:1.2.3.4" leaves a trailing ":" which is only valid as part of "::".
    body = body.endsWith("::") ? body : body.slice(0, -1);
  }
  const halves = body.split("::");
  if (halves.length > 2) return false;
  const hex = /^[0-9A-Fa-f]{1,4}$/;
  const countGroups = (half: string): number | null => {
    if (half === "") return 0;
    const parts = half.split(":");
    return parts.every((part) => hex.test(part)) ? parts.length : null;
  };
  const head = countGroups(halves[0]!);
  if (head === null) return false;
  if (halves.length === 1) return head === groups;
  const tail = countGroups(halves[1]!);
  if (tail === null) return false;
  // IPv6-comp: at most 6 groups around "::" (so "::" replaces at least one group).
  return head + tail <= groups - 1;
}
