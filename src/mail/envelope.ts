// RFC 9051 §7.5.2 ENVELOPE fields, taken from a message header at delivery.
// Strings are the raw header values (unfolded, encoded-words left as they are), as IMAP sends them.

import { firstHeaderValue, parseHeaderBlock, type HeaderField } from "./header-fields.js";

export interface EnvelopeAddress {
  /** Display name, or null. */
  name: string | null;
  /** RFC 9051 "adl" (source route), almost always null. */
  adl: string | null;
  /** Local part; for a group start marker: the group name; for a group end: null. */
  mailbox: string | null;
  /** Domain; null marks a group start or end (RFC 9051 §7.5.2). */
  host: string | null;
}

export interface Envelope {
  date: string | null;
  subject: string | null;
  from: EnvelopeAddress[] | null;
  sender: EnvelopeAddress[] | null;
  replyTo: EnvelopeAddress[] | null;
  to: EnvelopeAddress[] | null;
  cc: EnvelopeAddress[] | null;
  bcc: EnvelopeAddress[] | null;
  inReplyTo: string | null;
  messageId: string | null;
}

// ---------------------------------------------------------------------------------------------
// Parsing. Address lists follow RFC 5322 §3.4 with the obsolete forms of §4.4 tolerated. Broken
// addresses never fail: following Dovecot's message-address.c, a missing local part becomes
// "MISSING_MAILBOX" and a missing domain "MISSING_DOMAIN", because a NIL host would turn the
// address into a group marker in the IMAP envelope (RFC 9051 §7.5.2).

export const MISSING_MAILBOX = "MISSING_MAILBOX";
export const MISSING_DOMAIN = "MISSING_DOMAIN";

/** Envelope of a header block (the top-level header, or that of an encapsulated message). */
export function parseEnvelope(headerBlock: Buffer | string): Envelope {
  return envelopeFromFields(parseHeaderBlock(headerBlock));
}

/**
 * Envelope from already split fields. RFC 9051 §7.5.2: when Sender or Reply-To is absent or empty,
 * the server sets it to the From value; that is done here so every renderer agrees.
 */
export function envelopeFromFields(fields: readonly HeaderField[]): Envelope {
  const addresses = (name: string): EnvelopeAddress[] | null => {
    const value = firstHeaderValue(fields, name);
    if (value === null) return null;
    const list = parseAddressList(value);
    return list.length === 0 ? null : list;
  };
  const from = addresses("from");
  return {
    date: firstHeaderValue(fields, "date"),
    subject: firstHeaderValue(fields, "subject"),
    from,
    sender: addresses("sender") ?? from,
    replyTo: addresses("reply-to") ?? from,
    to: addresses("to"),
    cc: addresses("cc"),
    bcc: addresses("bcc"),
    inReplyTo: firstHeaderValue(fields, "in-reply-to"),
    messageId: firstHeaderValue(fields, "message-id"),
  };
}

/** `spaced`: whitespace came before the token, which a display name keeps ("John Q. Public"). */
type Token =
  | { kind: "special"; text: string; spaced: boolean }
  | { kind: "word"; text: string; quoted: boolean; spaced: boolean }
  | { kind: "comment"; text: string; spaced: boolean };

/**
 * Reads a quoted string (open === close === '"') or a comment, nesting included, whose opening
 * character is at `start`; quoted-pairs are resolved. An unterminated one runs to the end.
 */
function readDelimited(value: string, start: number, open: string, close: string): { text: string; end: number } {
  let text = "";
  let depth = 1;
  for (let i = start + 1; i < value.length; i++) {
    const ch = value[i] ?? "";
    if (ch === "\\" && i + 1 < value.length) {
      text += value[++i] ?? "";
      continue;
    }
    if (ch === close) {
      depth--;
      if (depth === 0) return { text, end: i + 1 };
    } else if (ch === open) depth++;
    text += ch;
  }
  return { text, end: value.length };
}

/** RFC 5322 §3.2: specials, quoted strings, comments and atoms (dots and 8-bit kept in atoms). */
function tokenize(value: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let spaced = false;
  while (i < value.length) {
    const ch = value[i] ?? "";
    const before = spaced;
    spaced = false;
    if (ch === " " || ch === "\t" || ch === "\r" || ch === "\n") {
      spaced = true;
      i++;
    } else if (ch === '"') {
      const read = readDelimited(value, i, '"', '"');
      tokens.push({ kind: "word", text: read.text, quoted: true, spaced: before });
      i = read.end;
    } else if (ch === "(") {
      const read = readDelimited(value, i, "(", ")");
      tokens.push({ kind: "comment", text: read.text.trim(), spaced: before });
      spaced = true;
      i = read.end;
    } else if (ch === "[") {
      const end = value.indexOf("]", i);
      const stop = end === -1 ? value.length : end + 1;
      tokens.push({ kind: "word", text: value.slice(i, stop), quoted: false, spaced: before });
      i = stop;
    } else if ("<>,:;@.".includes(ch)) {
      tokens.push({ kind: "special", text: ch, spaced: before });
      i++;
    } else {
      let end = i;
      while (end < value.length && !" \t\r\n\"(<>,:;@.[".includes(value[end] ?? " ")) end++;
      tokens.push({ kind: "word", text: value.slice(i, end), quoted: false, spaced: before });
      i = end;
    }
  }
  return tokens;
}

/** An addr-spec's text from tokens: words and dots joined, quoted local parts kept quoted. */
function specText(tokens: readonly Token[]): string {
  return tokens
    .filter((t) => t.kind !== "comment")
    .map((t) => (t.kind === "word" && t.quoted ? `"${t.text.replace(/(["\\])/g, "\\$1")}"` : t.text))
    .join("");
}

function phraseText(tokens: readonly Token[]): string | null {
  let text = "";
  for (const token of tokens) {
    if (token.kind === "comment") continue;
    text += (token.spaced && text !== "" ? " " : "") + token.text;
  }
  return text === "" ? null : text;
}

/** The last non-empty comment: in "user@host (Name)" the name follows the address. */
function lastComment(tokens: readonly Token[]): Token | undefined {
  return tokens.filter((t) => t.kind === "comment" && t.text !== "").pop();
}

/** addr-spec (with an optional obsolete source route) → the envelope address parts. */
function addressFromSpec(tokens: readonly Token[], name: string | null): EnvelopeAddress {
  let spec = tokens.filter((t) => t.kind !== "comment");
  let adl: string | null = null;
  // RFC 5322 §4.4 obs-route: "@a,@b:" before the address.
  const colon = spec.findIndex((t) => t.kind === "special" && t.text === ":");
  if (colon > 0 && spec[0]?.kind === "special" && spec[0].text === "@") {
    adl = specText(spec.slice(0, colon));
    spec = spec.slice(colon + 1);
  }
  let at = -1;
  spec.forEach((t, index) => {
    if (t.kind === "special" && t.text === "@") at = index;
  });
  const local = specText(at === -1 ? spec : spec.slice(0, at));
  const domain = at === -1 ? "" : specText(spec.slice(at + 1));
  return { name, adl, mailbox: local === "" ? MISSING_MAILBOX : local, host: domain === "" ? MISSING_DOMAIN : domain };
}

/** One mailbox from the tokens between two separators; null when there is nothing there. */
function mailboxFromTokens(tokens: readonly Token[]): EnvelopeAddress | null {
  if (tokens.every((t) => t.kind === "comment")) return null;
  const open = tokens.findIndex((t) => t.kind === "special" && t.text === "<");
  if (open !== -1) {
    const closeOffset = tokens.slice(open).findIndex((t) => t.kind === "special" && t.text === ">");
    const close = closeOffset === -1 ? tokens.length : open + closeOffset;
    const comment = lastComment(tokens);
    const name = phraseText(tokens.slice(0, open)) ?? (comment === undefined ? null : comment.text);
    return addressFromSpec(tokens.slice(open + 1, close), name);
  }
  const hasAt = tokens.some((t) => t.kind === "special" && t.text === "@");
  const words = tokens.filter((t) => t.kind === "word");
  if (!hasAt && words.length > 1) {
    // "John Doe" with no address at all: keep the phrase as the name.
    return { name: phraseText(tokens), adl: null, mailbox: MISSING_MAILBOX, host: MISSING_DOMAIN };
  }
  // RFC 5322 §4.4: "user@host (Name)", the obsolete form where a comment carries the name.
  const comment = lastComment(tokens);
  return addressFromSpec(tokens, comment === undefined ? null : comment.text);
}

/**
 * RFC 5322 §3.4 address-list. A group "name: a, b;" becomes a start marker (mailbox = group name,
 * host null), its members, and an end marker (mailbox and host null), per RFC 9051 §7.5.2.
 */
export function parseAddressList(value: string): EnvelopeAddress[] {
  const tokens = tokenize(value);
  const result: EnvelopeAddress[] = [];
  let current: Token[] = [];
  let inGroup = false;
  let inAngle = false;
  let currentHasAt = false;
  const flush = (): void => {
    const address = mailboxFromTokens(current);
    if (address !== null) result.push(address);
    current = [];
    currentHasAt = false;
  };
  for (const token of tokens) {
    const special = token.kind === "special" ? token.text : null;
    if (special === "<") inAngle = true;
    if (special === ">") inAngle = false;
    if (special === "," && !inAngle) flush();
    else if (special === ":" && !inAngle && !inGroup && !currentHasAt) {
      result.push({ name: null, adl: null, mailbox: phraseText(current) ?? "", host: null });
      current = [];
      inGroup = true;
    } else if (special === ";" && inGroup && !inAngle) {
      flush();
      result.push({ name: null, adl: null, mailbox: null, host: null });
      inGroup = false;
    } else {
      current.push(token);
      if (special === "@") currentHasAt = true;
    }
  }
  flush();
  if (inGroup) result.push({ name: null, adl: null, mailbox: null, host: null });
  return result;
}
