// RFC 9051 §6.3.12 APPEND with RFC 3502 MULTIAPPEND, RFC 4315 UIDPLUS (APPENDUID), RFC 7889
// APPENDLIMIT, RFC 3516 literal8 and RFC 6855 §4 UTF8 append data:
//   a1 APPEND Drafts (\Seen) "01-Jan-2026 10:00:00 +0000" {310}
//   a2 APPEND INBOX {120+} ... (\Flagged) {98+} ...        (MULTIAPPEND: several messages)
//   a3 APPEND Sent (\Seen) UTF8 (~{367+} ...)              (after ENABLE UTF8=ACCEPT; Thunderbird)
//   a4 APPEND Sent CATENATE (URL "/INBOX/;UID=5" TEXT {12+} ...)   (RFC 4469, catenate.ts)
// Message literals are streamed (streamsLiteral): their octets go to the store as they arrive,
// never into memory, and the target mailbox is checked before the first `+` (TRYCREATE then
// costs the client nothing). All messages of one command are appended in one store transaction,
// all or none (RFC 3502 §6.3.11), and the tagged OK is written only once they are durable.
import type { StagedAppend } from "../../store/index.js";
import type { ArgumentReader, LiteralPiece } from "../protocol/arguments.js";
import { encodeNumbers } from "../protocol/sequence-set.js";
import { ImapError, type CommandContext, type ImapCommand } from "./command.js";
import { refuseOverLimit } from "./message-limit.js";
import { isCatenateUrlLiteral, MAX_CATENATE_URL_LITERAL, readCatenate, stageCatenated, type CatenatePart } from "./catenate.js";
import { requireMailboxAccess } from "../acl/mailbox-access.js";
import { permanentFlagsFor } from "../acl/selected-rights.js";

export interface AppendMessage {
  flags: string[];
  internalDate: Date | null;
  /** The message literal; for a CATENATE message (RFC 4469), its parts instead. */
  literal: LiteralPiece | null;
  catenate?: CatenatePart[];
}

interface AppendArgs {
  mailbox: string;
  messages: AppendMessage[];
}

/** The first line is `tag APPEND {n}` only when the mailbox name itself is a literal. */
const MAILBOX_LITERAL = /^[^ ]+ APPEND ~?\{\d+\+?\}$/i;

export const appendCommand: ImapCommand<AppendArgs> = {
  names: ["APPEND"],
  uid: false,
  states: ["authenticated", "selected"],
  sequenceUse: "none",
  capabilities: ["UIDPLUS", "MULTIAPPEND", "CATENATE"],
  // append = "APPEND" SP mailbox 1*append-message: every literal but a mailbox name and a
  // CATENATE URL (RFC 4469 cat-part = "URL" SP astring) is message data.
  streamsLiteral: (lines, index) => !(index === 0 && MAILBOX_LITERAL.test(lines[0]?.toString("latin1") ?? "")) && !isCatenateUrlLiteral(lines),
  // A URL literal is collected in memory, so it is held to MAX_CATENATE_URL_LITERAL.
  literalLimit: (lines) => (isCatenateUrlLiteral(lines) ? MAX_CATENATE_URL_LITERAL : undefined),
  beforeStreamedLiteral: async (ctx, args) => {
    await targetMailbox(ctx, args.mailbox());
  },
  parse: (args, { enabled }) => {
    const mailbox = args.mailbox();
    const messages: AppendMessage[] = [];
    const utf8Accepted = enabled.has("UTF8=ACCEPT");
    // RFC 3502 §6.3.11: append-message = append-opts SP append-data, one or more.
    do {
      args.space();
      messages.push(appendMessage(args, utf8Accepted));
    } while (!args.atEnd());
    args.end();
    return { mailbox, messages };
  },
  run: async (ctx, { mailbox: name, messages }) => {
    // RFC 9738: a MULTIAPPEND of more messages than MESSAGELIMIT stores none (message-limit.ts).
    refuseOverLimit(ctx, messages.length, "APPEND");
    const limit = ctx.session.appendLimit();
    for (const { literal } of messages) {
      if (literal === null) continue;
      // RFC 7889 §4: over the limit is NO [TOOBIG] (the reader refuses synchronising literals earlier).
      if (literal.size > limit) throw ImapError.no("TOOBIG", "message is larger than the APPENDLIMIT");
      // RFC 9051 §6.3.12: a zero-length message is refused.
      if (literal.size === 0) throw ImapError.no(null, "empty message");
    }
    const mailbox = await targetMailbox(ctx, name);
    // RFC 4314 §4: on another account's mailbox, flags the user may not set ("s", "w", "t") are left off.
    const rights = mailbox.accountId === ctx.requireAccount().id ? null : await ctx.store.rightsOf(mailbox.id, ctx.requireAccount().id);
    const staged: StagedAppend[] = [];
    for (const message of messages) {
      // RFC 4469: a CATENATE message is composed from its parts (catenate.ts).
      const source = message.literal === null ? await stageCatenated(ctx, message.catenate ?? [], limit) : await ctx.stagedLiteral(message.literal, limit);
      const flags = rights === null ? message.flags : permanentFlagsFor(message.flags, rights);
      staged.push({ source, flags, internalDate: message.internalDate ?? ctx.clock() });
    }
    // Over quota (RFC 9208 STORAGE or MESSAGE) the store refuses the whole command: NO [OVERQUOTA].
    const copies = await ctx.store.appendStaged(mailbox.id, staged, { maxBytes: limit });
    await ctx.quota?.noteAdded(mailbox.accountId);
    // RFC 4315 §3 / RFC 3502 §6.3.11: APPENDUID uidvalidity uid-set, in the order appended.
    ctx.complete({ code: `APPENDUID ${mailbox.uidValidity} ${encodeNumbers(copies.map((c) => c.uid))}`, text: "APPEND completed" });
  },
};

/** append-opts SP append-data: [flag-list SP] [date-time SP] (literal / utf8-literal). */
export function appendMessage(args: ArgumentReader, utf8Accepted: boolean): AppendMessage {
  let flags: string[] = [];
  let internalDate: Date | null = null;
  if (args.peekListStart()) {
    flags = args.flagList();
    args.space();
  }
  if (args.peekChar() === '"') {
    internalDate = args.dateTime();
    args.space();
  }
  // RFC 6855 §4, §7: utf8-literal = "UTF8" SP "(" literal8 ")", an alternative append-data for
  // a message with UTF-8 header fields. Its syntax is valid only once the client has enabled
  // UTF8=ACCEPT (the session then treats the message as it would any other: it is stored as
  // sent, RFC 6855 §4 forbids changing it). Thunderbird sends it for Sent, Drafts and Templates.
  if (args.takeKeyword("UTF8")) {
    if (!utf8Accepted) throw args.error("APPEND UTF8 needs ENABLE UTF8=ACCEPT first (RFC 6855 §4)");
    args.space();
    args.expectChar("(");
    // The grammar asks for literal8; a plain literal carries the same octets minus NUL, so it
    // is taken too rather than losing the client's message over the marker's tilde.
    const literal = args.literalPiece(true);
    args.expectChar(")");
    return { flags, internalDate, literal };
  }
  // RFC 4469 §5: append-data =/ "CATENATE" SP "(" cat-part *(SP cat-part) ")".
  if (args.takeKeyword("CATENATE")) return { flags, internalDate, literal: null, catenate: readCatenate(args) };
  return { flags, internalDate, literal: args.literalPiece(true) };
}

export async function targetMailbox(ctx: CommandContext, name: string) {
  // RFC 9051 §6.3.12: TRYCREATE tells the client that creating the mailbox would help.
  // RFC 4314 §4: putting messages into a mailbox (APPEND, COPY, MOVE) needs "i".
  return (await requireMailboxAccess(ctx, name, "i", { code: "TRYCREATE", text: "no such mailbox" })).mailbox;
}
