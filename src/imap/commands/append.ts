// RFC 9051 §6.3.12 APPEND with RFC 4315 UIDPLUS (APPENDUID), RFC 7889 APPENDLIMIT and RFC 3516
// literal8. One message per command: MULTIAPPEND (RFC 3502) is not implemented nor advertised.
// The literal's octets go to the store as the chunks they arrived in; the tagged OK is written
// only after the store has made the message durable.
import type { LiteralPiece } from "../protocol/arguments.js";
import { ImapError, type ImapCommand } from "./command.js";

interface AppendArgs {
  mailbox: string;
  flags: string[];
  internalDate: Date | null;
  message: LiteralPiece;
}

export const appendCommand: ImapCommand<AppendArgs> = {
  names: ["APPEND"],
  uid: false,
  states: ["authenticated", "selected"],
  sequenceUse: "none",
  capabilities: ["UIDPLUS"],
  parse: (args) => {
    const mailbox = args.mailbox();
    args.space();
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
    const message = args.literalPiece(true);
    args.end();
    return { mailbox, flags, internalDate, message };
  },
  run: async (ctx, { mailbox: name, flags, internalDate, message }) => {
    const limit = ctx.session.appendLimit();
    // RFC 7889 §4: over the limit is NO [TOOBIG] (the reader refuses synchronising literals earlier).
    if (message.size > limit) throw ImapError.no("TOOBIG", "message is larger than the APPENDLIMIT");
    // RFC 9051 §6.3.12: a zero-length message is refused.
    if (message.size === 0) throw ImapError.no(null, "empty message");
    const mailbox = await ctx.store.getMailbox(ctx.requireAccount().id, name);
    // RFC 9051 §6.3.12: TRYCREATE tells the client that creating the mailbox would help.
    if (mailbox === null) throw ImapError.no("TRYCREATE", "no such mailbox");
    const copy = await ctx.store.append(mailbox.id, chunksOf(message), { flags, internalDate: internalDate ?? ctx.clock(), maxBytes: limit });
    // RFC 4315 §3: APPENDUID uidvalidity uid.
    ctx.complete({ code: `APPENDUID ${copy.uidValidity} ${copy.uid}`, text: "APPEND completed" });
  },
};

async function* chunksOf(message: LiteralPiece): AsyncGenerator<Buffer, void, undefined> {
  for (const chunk of message.chunks) yield chunk;
}
