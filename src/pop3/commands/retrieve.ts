// RETR and TOP (RFC 1939 §7): a message, or its header and first lines, as a dot-stuffed
// multi-line response streamed from the store. mail/DotStuffer turns bare LF and bare CR into CRLF
// and doubles leading dots; the octets sent match LIST (protocol/sent-octets.ts). Small messages
// come whole from the maildrop's read-ahead; a large one is streamed, each chunk the store yields
// becoming one write, so it is never held whole in memory.
import { DotStuffer } from "../../mail/dot-stuffing.js";
import { BrokenResponseError, Pop3Error } from "../errors.js";
import type { MaildropEntry, OpenedMessage } from "../maildrop.js";
import { ok, TopLimiter } from "../protocol/index.js";
import type { Pop3CommandSpec, Pop3Context } from "./context.js";
import { liveEntry } from "./listing.js";

export const retr: Pop3CommandSpec<"RETR"> = {
  states: ["transaction"],
  async run(context, command) {
    const entry = liveEntry(context, command.message);
    const opened = await openOrRefuse(context, entry);
    const size = entry.sentSize === null ? "message follows" : `${entry.sentSize} octets`;
    await context.reply(ok(size));
    await sendBody(context, opened, null);
    entry.retrieved = true;
    // Written after the batch of commands (pop3-session.ts), after the body was sent.
    if (context.account!.pop3.markSeen) context.maildrop.markSeen(entry);
  },
};

export const top: Pop3CommandSpec<"TOP"> = {
  states: ["transaction"],
  async run(context, command) {
    const entry = liveEntry(context, command.message);
    const opened = await openOrRefuse(context, entry);
    await context.reply(ok("top of message follows"));
    // RFC 1939 §7: TOP does not count as retrieval (no \Seen, no delete-after-retrieve).
    await sendBody(context, opened, new TopLimiter(command.lines));
  },
};

async function openOrRefuse(context: Pop3Context, entry: MaildropEntry): Promise<OpenedMessage> {
  const opened = await context.maildrop.openForSending(entry);
  // Expunged by another session (IMAP) since login: the number stays valid, the message is gone.
  if (opened === null) throw new Pop3Error(null, `message ${entry.number} was removed by another session`);
  return opened;
}

async function sendBody(context: Pop3Context, opened: OpenedMessage, limiter: TopLimiter | null): Promise<void> {
  const stuffer = new DotStuffer();
  try {
    for await (const raw of opened.chunks) {
      const chunk = limiter === null ? raw : limiter.push(raw);
      const parts = stuffer.push(chunk);
      if (parts.length > 0) await context.write(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
      if (limiter?.done) break;
    }
  } catch (error) {
    // "+OK" is out: the only honest thing left is to end the connection without the terminator.
    throw new BrokenResponseError("message body failed while being sent", { cause: error });
  } finally {
    opened.close();
  }
  await context.write(stuffer.end());
}
