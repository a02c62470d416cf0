// RFC 4469 CATENATE: an APPEND message built from parts, each a TEXT literal or an IMAP URL
// (RFC 5092) naming a message, or a section of one, in the user's own mailboxes:
//   a1 APPEND Sent (\Seen) CATENATE (URL "/Drafts;UIDVALIDITY=7/;UID=20/;SECTION=HEADER"
//        TEXT {42+} ... URL "/INBOX/;UID=5/;SECTION=2" TEXT {10+} ...)
// The message is composed as a stream (TEXT literals come staged by the session, URL parts are
// read from the store as they are copied) and staged once, so a 20 MB attachment forwarded by
// URL never passes through memory and is not uploaded again.
//
// Decisions (RFC 4469 §5 leaves them to the server):
// - A URL must name a message of the logged-in account: a user in the URL must be the account's
//   address, the host is not checked (this server knows itself by several names), the mailbox
//   must exist, UIDVALIDITY (when given) match, the UID exist. Else `NO [BADURL url]` with
//   nothing appended (§5). URLAUTH/EXPIRE components are not supported here: BADURL.
// - Sections: the part numbers, HEADER, TEXT and MIME of FETCH BODY[...] (byte ranges of the
//   stored message); HEADER.FIELDS is BADURL. A section that does not exist is BADURL;
//   ;PARTIAL=o.l takes those octets of it (an offset past the end gives nothing).
// - The result larger than APPENDLIMIT is `NO [TOOBIG]` (§5), an empty result NO.
// - A URL sent as a literal (`URL {n}`, cat-part = "URL" SP astring) is collected, not streamed,
//   and held to MAX_CATENATE_URL_LITERAL: a longer one is `NO [TOOBIG]` before `+`.
import type { Mailbox, StagedMessage, StoredMessage } from "../../store/index.js";
import { isStoreError, type ByteRange } from "../../store/index.js";
import type { Readable } from "node:stream";
import { ArgumentReader, type LiteralPiece } from "../protocol/arguments.js";
import { readFetchRequest, type Section } from "../protocol/fetch-item.js";
import { parseImapMessageUrl, type ImapMessageUrl } from "../protocol/imap-url.js";
import { locateSection } from "../fetch/section.js";
import { ImapError, type CommandContext } from "./command.js";

export type CatenatePart = { kind: "text"; literal: LiteralPiece } | { kind: "url"; url: string };

/** Parts per CATENATE: bounds the URLs resolved and the pieces copied for one message. */
export const MAX_CATENATE_PARTS = 100;

/** Octets of a URL sent as a literal (`URL {n}`): a URL is a short string, collected in memory. */
export const MAX_CATENATE_URL_LITERAL = 8192;

/**
 * Whether the literal whose marker ends the command's text so far is a CATENATE URL part: the
 * last line ends in `URL {n}` (after `(` or a space) and the command has opened a CATENATE list.
 * Such a literal is an astring, not message data (append.ts does not stream it).
 */
export function isCatenateUrlLiteral(lines: readonly Buffer[]): boolean {
  const last = lines[lines.length - 1]?.toString("latin1") ?? "";
  if (!/(?:^|[ (])URL \{\d{1,20}\+?\}$/i.test(last)) return false;
  return lines.some((line) => /(?:^| )CATENATE \(/i.test(line.toString("latin1")));
}

/** `CATENATE (cat-part *(SP cat-part))` after the keyword; cat-part = "TEXT" SP literal / "URL" SP astring. */
export function readCatenate(args: ArgumentReader): CatenatePart[] {
  args.space();
  const parts = args.list((): CatenatePart => {
    const kind = args.atom().toUpperCase();
    args.space();
    if (kind === "TEXT") return { kind: "text", literal: args.literalPiece(true) };
    if (kind === "URL") return { kind: "url", url: args.astringBytes().toString("latin1") };
    throw args.error(`unknown CATENATE part ${kind.slice(0, 20)}`);
  }, false);
  if (parts.length > MAX_CATENATE_PARTS) throw args.error(`at most ${MAX_CATENATE_PARTS} CATENATE parts`);
  return parts;
}

/**
 * RFC 4469 §6: "BADURL" SP url-resp-text, where url-resp-text = 1*(TEXT-CHAR - "]"): the URL as
 * sent, unquoted, so a client can find the part it sent; "]" is left out, octets outside
 * printable ASCII are %-escaped (RFC 5092 writes them so anyway), and an empty URL reads `""`
 * (url-resp-text is never empty).
 */
export function badUrlCode(url: string): string {
  const text = url
    .replace(/\]/g, "")
    .replace(/[^\x20-\x7e]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`)
    .slice(0, 1024);
  return `BADURL ${text === "" ? '""' : text}`;
}

const badUrl = (url: string): ImapError => ImapError.no(badUrlCode(url), "the URL does not name a message this user can read");

/** A URL part resolved to a byte range of a stored message. */
interface ResolvedUrl {
  message: StoredMessage;
  range: ByteRange;
}

function sectionOf(text: string): Section | null {
  try {
    const request = readFetchRequest(ArgumentReader.ofLine(`BODY.PEEK[${text}]`), false);
    const item = request.items[0];
    return item?.kind === "body-section" && request.items.length === 1 ? item.section : null;
  } catch {
    return null;
  }
}

async function resolveUrl(ctx: CommandContext, raw: string, mailboxes: Map<string, Mailbox | null>): Promise<ResolvedUrl> {
  const url: ImapMessageUrl | null = parseImapMessageUrl(raw);
  const account = ctx.requireAccount();
  if (url === null) throw badUrl(raw);
  if (url.user !== null && url.user.toLowerCase() !== account.address.toLowerCase()) throw badUrl(raw);
  let mailbox = mailboxes.get(url.mailbox);
  if (mailbox === undefined) {
    mailbox = await ctx.store.getMailbox(account.id, url.mailbox);
    mailboxes.set(url.mailbox, mailbox);
  }
  if (mailbox === null || (url.uidValidity !== null && url.uidValidity !== mailbox.uidValidity)) throw badUrl(raw);
  const [message] = await ctx.store.getMessages(mailbox.id, [url.uid as StoredMessage["uid"]]);
  if (message === undefined) throw badUrl(raw);
  let range: ByteRange = { start: 0, end: message.size };
  if (url.section !== null) {
    const section = sectionOf(url.section);
    if (section === null) throw badUrl(raw);
    const source = locateSection(message.structure, message.size, section);
    if (source.kind !== "range") throw badUrl(raw);
    range = source.range;
  }
  if (url.partial !== null) {
    const start = Math.min(range.end, range.start + url.partial.offset);
    const end = url.partial.length === null ? range.end : Math.min(range.end, start + url.partial.length);
    range = { start, end };
  }
  return { message, range };
}

/**
 * The message the parts make, staged in the store. Every URL is resolved before any octet is
 * copied, so a bad one changes nothing; TEXT parts are the session's staged literals.
 */
export async function stageCatenated(ctx: CommandContext, parts: readonly CatenatePart[], maxBytes: number): Promise<StagedMessage> {
  const mailboxes = new Map<string, Mailbox | null>();
  const pieces: ({ kind: "text"; staged: StagedMessage } | { kind: "url"; url: string; resolved: ResolvedUrl })[] = [];
  let total = 0;
  for (const part of parts) {
    if (part.kind === "url") {
      const resolved = await resolveUrl(ctx, part.url, mailboxes);
      total += resolved.range.end - resolved.range.start;
      pieces.push({ kind: "url", url: part.url, resolved });
    } else {
      if (part.literal.size > maxBytes) throw ImapError.no("TOOBIG", "the message would be larger than the APPENDLIMIT");
      total += part.literal.size;
      pieces.push({ kind: "text", staged: await ctx.stagedLiteral(part.literal, maxBytes) });
    }
  }
  // RFC 4469 §5: TOOBIG before anything is copied when the sizes already tell.
  if (total > maxBytes) throw ImapError.no("TOOBIG", "the message would be larger than the APPENDLIMIT");
  if (total === 0) throw ImapError.no(null, "empty message");
  // The URL being copied, for the BADURL when its message goes away meanwhile.
  let copying = "";
  async function* composed(): AsyncIterable<Buffer> {
    for (const piece of pieces) {
      if (piece.kind === "url" && piece.resolved.range.end <= piece.resolved.range.start) continue;
      if (piece.kind === "url") copying = piece.url;
      const stream: Readable = piece.kind === "text" ? piece.staged.open() : ctx.store.openMessage(piece.resolved.message, piece.resolved.range);
      for await (const chunk of stream) yield chunk as Buffer;
    }
  }
  try {
    return await ctx.store.stageMessage(composed(), { maxBytes });
  } catch (error) {
    if (isStoreError(error, "TOOBIG")) throw ImapError.no("TOOBIG", "the message would be larger than the APPENDLIMIT");
    // A URL's message expunged while it was being copied.
    if (isStoreError(error, "NONEXISTENT")) throw ImapError.no(badUrlCode(copying), "a URL's message was removed meanwhile");
    throw error;
  }
}
