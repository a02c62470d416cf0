// TRANSACTION state listings (RFC 1939 §5, §7): STAT, LIST and UIDL. Sizes are the octets RETR
// sends (protocol/sent-octets.ts), so a client comparing LIST with what it received finds them
// equal even for messages stored with bare LF line ends.
import { noSuchMessage, Pop3Error } from "../errors.js";
import type { MaildropEntry } from "../maildrop.js";
import { ok } from "../protocol/index.js";
import type { Pop3CommandSpec, Pop3Context } from "./context.js";

/** The entry for a message number that is in the snapshot and not marked deleted. */
export function liveEntry(context: Pop3Context, n: number): MaildropEntry {
  const entry = context.maildrop.entry(n);
  if (entry === null) throw noSuchMessage(n);
  // RFC 1939 §5: a message marked as deleted may not be referred to.
  if (entry.deleted) throw new Pop3Error(null, `message ${n} already deleted`);
  return entry;
}

export const stat: Pop3CommandSpec<"STAT"> = {
  states: ["transaction"],
  async run(context) {
    const entries = context.maildrop.live();
    await context.maildrop.countSentOctets(entries);
    const octets = entries.reduce((sum, entry) => sum + (entry.sentSize ?? entry.storedSize), 0);
    // RFC 1939 §5: "+OK nn mm", exactly, deleted messages not counted.
    return context.reply(ok(`${entries.length} ${octets}`));
  },
};

export const list: Pop3CommandSpec<"LIST"> = {
  states: ["transaction"],
  async run(context, command) {
    if (command.message !== null) {
      const entry = liveEntry(context, command.message);
      await context.maildrop.countSentOctets([entry]);
      return context.reply(ok(`${entry.number} ${entry.sentSize}`));
    }
    const entries = context.maildrop.live();
    await context.maildrop.countSentOctets(entries);
    return context.replyLines(ok(`${entries.length} messages`), entries.map((entry) => `${entry.number} ${entry.sentSize}`));
  },
};

export const uidl: Pop3CommandSpec<"UIDL"> = {
  states: ["transaction"],
  async run(context, command) {
    const maildrop = context.maildrop;
    if (command.message !== null) {
      const entry = liveEntry(context, command.message);
      return context.reply(ok(`${entry.number} ${maildrop.uniqueId(entry)}`));
    }
    return context.replyLines(ok("unique-id listing follows"), maildrop.live().map((entry) => `${entry.number} ${maildrop.uniqueId(entry)}`));
  },
};
