// Shared steps of the workloads: deliver a list of messages over SMTP with N concurrent
// connections, fill a mailbox over IMAP APPEND with N connections, and wait until a mailbox holds
// a given number of messages as seen by a reader (IMAP STATUS; POP3 STAT with a fresh login when
// the target has no IMAP). Every loop is bounded by a deadline.
import { ImapClient } from "../lib/imap-client.js";
import { Pop3Client } from "../lib/pop3-client.js";
import { dotStuff, SmtpSender } from "../lib/smtp-sender.js";
import type { Account, Target } from "../servers/target.js";

export async function deliverOverSmtp(target: Target, to: Account, stuffed: readonly Buffer[], clients: number): Promise<void> {
  const smtp = target.endpoints.smtp;
  if (!smtp) throw new Error("no SMTP endpoint");
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(clients, stuffed.length) }, async () => {
      const sender = await SmtpSender.open(smtp);
      try {
        while (next < stuffed.length) await sender.send({ from: "sender@corpus.invalid", to: to.address }, stuffed[next++]!);
      } finally {
        await sender.quit();
      }
    }),
  );
}

export const stuffAll = (messages: readonly Buffer[]): Buffer[] => messages.map(dotStuff);

/** APPENDs to INBOX over `clients` connections, pipelining up to `window` per connection. */
export async function appendOverImap(target: Target, account: Account, messages: readonly Buffer[], clients: number, window = 16): Promise<void> {
  const imap = target.endpoints.imap;
  if (!imap) throw new Error("no IMAP endpoint");
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(clients, messages.length) }, async () => {
      const client = await ImapClient.login(imap, account.address, account.password);
      try {
        const inFlight = new Set<Promise<void>>();
        while (next < messages.length) {
          const sent = client.append("INBOX", messages[next++]!).then((r) => {
            if (r.status !== "OK") throw new Error(`APPEND: ${r.text}`);
          });
          const tracked: Promise<void> = sent.finally(() => inFlight.delete(tracked));
          inFlight.add(tracked);
          if (inFlight.size >= window) await Promise.race(inFlight);
        }
        await Promise.all(inFlight);
      } finally {
        await client.logout();
      }
    }),
  );
}

export type Probe = "imap" | "pop3";

export function probeFor(target: Target): Probe | null {
  if (target.endpoints.imap) return "imap";
  if (target.endpoints.pop3) return "pop3";
  return null;
}

/** A reader that answers "how many messages are in INBOX now"; open it before the clock starts. */
export async function openCounter(target: Target, account: Account): Promise<{ probe: Probe; count(): Promise<number>; close(): Promise<void> }> {
  const imap = target.endpoints.imap;
  if (imap) {
    const client = await ImapClient.login(imap, account.address, account.password);
    return { probe: "imap", count: () => client.messageCount("INBOX"), close: () => client.logout() };
  }
  const pop3 = target.endpoints.pop3;
  if (!pop3) throw new Error("neither IMAP nor POP3 to read the mailbox with");
  // A POP3 session sees the maildrop as it was at login (RFC 1939 §8), so each look is a new session.
  const count = async () => {
    const client = await Pop3Client.login(pop3, account.address, account.password);
    try {
      return (await client.stat()).count;
    } finally {
      await client.quit();
    }
  };
  return { probe: "pop3", count, close: async () => {} };
}

export async function waitForCount(counter: { count(): Promise<number> }, expected: number, timeoutMs: number, pollMs = 10): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let seen = -1;
  while (Date.now() < deadline) {
    seen = await counter.count();
    if (seen >= expected) return;
    await new Promise((r) => setTimeout(r, pollMs));
  }
  throw new Error(`mailbox holds ${seen} of ${expected} messages after ${timeoutMs} ms`);
}
