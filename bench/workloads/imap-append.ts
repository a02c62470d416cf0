// IMAP APPEND: one client uploads N varied messages to INBOX, pipelined (up to 10 in flight) when
// the server offers LITERAL+, one at a time with synchronizing literals otherwise, as a migration
// tool would. Timed from connect to the last tagged OK.
import { corpusArray } from "../lib/corpus.js";
import { elapsedMs } from "../lib/stats.js";
import { appendOverImap } from "./delivery.js";
import type { Workload } from "./workload.js";

export function imapAppend(options: { messages: number; seed: number }): Workload {
  const { messages } = options;
  const account = (run: number) => `appendr${run}`;
  const corpus = corpusArray({ seed: options.seed + 5, count: messages, to: "rcpt@bench.test" });
  return {
    id: "imap-append",
    title: `IMAP APPEND ${messages} messages, 1 client`,
    needs: ["imap"],
    metrics: [{ id: "rate", title: `IMAP APPEND ${messages} msgs (one session)`, unit: "msg/s", better: "higher", goal: { minRatio: 1 } }],
    accounts: (runs) => Array.from({ length: runs }, (_, r) => account(r)),
    async run(target, _ctx, runIndex) {
      const started = process.hrtime.bigint();
      await appendOverImap(target, target.account(account(runIndex)), corpus, 1, 10);
      return { rate: messages / (elapsedMs(started) / 1000) };
    },
  };
}
