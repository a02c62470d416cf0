// Where a DSN goes: into the sender's INBOX when the sender is one of our accounts (the usual
// case: our users' submissions), otherwise back into the outbound queue from the null sender
// (RFC 5321 §4.5.5), so a DSN that cannot be delivered is dropped rather than bounced again.
import type { Logger } from "../observability/log.js";
import type { AccountStore, MailStore, QueuedMessage, QueueStore } from "../store/index.js";
import { needsGlobalDsn } from "./bounce.js";

export interface BounceSink {
  /** Delivers one DSN about `entry` to its sender; resolves once it is durable. */
  send(entry: QueuedMessage, dsn: AsyncIterable<Buffer>): Promise<"inbox" | "queued" | "dropped">;
}

export interface BounceSinkOptions {
  mail: Pick<MailStore, "stageMessage" | "deliver" | "getMailbox">;
  accounts: Pick<AccountStore, "findAccountByAddress" | "isLocalDomain">;
  queue: Pick<QueueStore, "enqueue">;
  log: Logger;
}

export function createBounceSink(options: BounceSinkOptions): BounceSink {
  return {
    async send(entry, dsn) {
      if (entry.mailFrom === "") return "dropped";
      const account = (await options.accounts.findAccountByAddress(entry.mailFrom)) ?? (entry.submittedBy ? await options.accounts.findAccountByAddress(entry.submittedBy) : null);
      const staged = await options.mail.stageMessage(dsn);
      try {
        if (account !== null) {
          const inbox = await options.mail.getMailbox(account.id, "INBOX");
          if (inbox === null) throw new Error(`account ${account.address} has no INBOX`);
          // RFC 5321 §4.4: the delivering MTA records the (null) reverse-path.
          await options.mail.deliver({ source: staged, targets: [{ mailboxId: inbox.id, prefix: Buffer.from("Return-Path: <>\r\n") }] });
          return "inbox";
        }
        const domain = entry.mailFrom.slice(entry.mailFrom.lastIndexOf("@") + 1);
        if (await options.accounts.isLocalDomain(domain)) {
          options.log.warn("queue.dsn_dropped", { queueId: entry.id, sender: entry.mailFrom, reason: "local sender without an account" });
          staged.discard();
          return "dropped";
        }
        await options.queue.enqueue({
          message: staged,
          mailFrom: "",
          submittedBy: null,
          recipients: [{ address: entry.mailFrom, notify: ["NEVER"], originalRecipient: null }],
          envelopeId: null,
          ret: null,
          bodyType: "8BITMIME",
          // A UTF-8 sender address, or the RFC 6533 report form with its UTF-8 fields.
          smtputf8: needsGlobalDsn(entry),
        });
        return "queued";
      } catch (error) {
        staged.discard();
        throw error;
      }
    },
  };
}
