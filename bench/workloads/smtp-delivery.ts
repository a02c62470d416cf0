// SMTP inbound: N messages of one size over 1 or 10 concurrent connections, timed from the first
// connect until the last message is readable by a mail client (IMAP STATUS, or POP3 when a target
// has no IMAP yet). That end point is what makes Mailroom (250 after the message is in the
// mailbox) and Postfix (250 once queued, then LMTP to Dovecot) comparable.
import { corpusArray } from "../lib/corpus.js";
import { elapsedMs } from "../lib/stats.js";
import { deliverOverSmtp, openCounter, stuffAll, waitForCount } from "./delivery.js";
import type { Workload } from "./workload.js";

export function smtpDelivery(options: { kib: number; clients: number; messages: number; seed: number }): Workload {
  const { kib, clients, messages } = options;
  const name = `smtp${kib}k${clients}c`;
  const account = (run: number) => `${name}r${run}`;
  const corpus = stuffAll(corpusArray({ seed: options.seed + kib, count: messages, bytes: kib * 1024, to: `rcpt@bench.test` }));
  return {
    id: `smtp-${kib}k-${clients}c`,
    title: `SMTP inbound ${kib} KB, ${clients} client${clients > 1 ? "s" : ""}, ${messages} msgs`,
    needs: ["smtp"],
    metrics: [{ id: "rate", title: `SMTP inbound ${kib} KB x${clients} (connect to readable)`, unit: "msg/s", better: "higher" }],
    accounts: (runs) => Array.from({ length: runs }, (_, r) => account(r)),
    async run(target, _ctx, runIndex) {
      const to = target.account(account(runIndex));
      const counter = await openCounter(target, to);
      try {
        const started = process.hrtime.bigint();
        await deliverOverSmtp(target, to, corpus, clients);
        await waitForCount(counter, messages, 300_000, counter.probe === "imap" ? 5 : 25);
        return { rate: messages / (elapsedMs(started) / 1000) };
      } finally {
        await counter.close();
      }
    },
  };
}
