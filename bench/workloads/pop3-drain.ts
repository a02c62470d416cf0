// POP3 download and delete: a mailbox of N varied messages (delivered over SMTP, untimed) is
// emptied by one client: RETR and DELE of every message, pipelined when the server offers
// PIPELINING, timed from connect until the +OK of QUIT (RFC 1939 §6: the deletions are done then).
import { corpusArray } from "../lib/corpus.js";
import { Pop3Client } from "../lib/pop3-client.js";
import { elapsedMs } from "../lib/stats.js";
import { deliverOverSmtp, stuffAll, waitForCount } from "./delivery.js";
import type { Workload } from "./workload.js";

/** `bytes` omitted: the varied corpus; given: every message about that size (issue #5 also asks 100 x 1 MB). */
export function pop3Drain(options: { messages: number; seed: number; runs: number; bytes?: number }): Workload {
  const { messages, runs: runsPlanned, bytes } = options;
  const suffix = bytes === undefined ? "" : `-${Math.round(bytes / 1024 / 1024)}m`;
  const account = (run: number) => `pop3r${suffix.replace("-", "")}${run}`;
  const corpus = stuffAll(corpusArray({ seed: options.seed + 3, count: messages, to: "rcpt@bench.test", ...(bytes === undefined ? {} : { bytes }) }));
  const label = bytes === undefined ? `${messages} msgs` : `${messages} x ${Math.round(bytes / 1024 / 1024)} MB`;
  return {
    id: `pop3-drain${suffix}`,
    title: `POP3 download and delete ${label}`,
    needs: ["smtp", "pop3"],
    metrics: [{ id: "time", title: `POP3 RETR+DELE ${label}`, unit: "ms", better: "lower", goal: { minRatio: 1 } }],
    accounts: (runs) => Array.from({ length: runs }, (_, r) => account(r)),
    async prepare(target) {
      const pop3 = target.endpoints.pop3!;
      for (let r = 0; r < runsPlanned; r++) {
        const to = target.account(account(r));
        await deliverOverSmtp(target, to, corpus, 10);
        const count = async () => {
          const client = await Pop3Client.login(pop3, to.address, to.password);
          try { return (await client.stat()).count; } finally { await client.quit(); }
        };
        await waitForCount({ count }, messages, 300_000, 100);
      }
    },
    async run(target, _ctx, runIndex) {
      const to = target.account(account(runIndex));
      const started = process.hrtime.bigint();
      const client = await Pop3Client.login(target.endpoints.pop3!, to.address, to.password);
      const { count } = await client.stat();
      if (count !== messages) throw new Error(`maildrop holds ${count} messages, expected ${messages}`);
      await client.downloadAndDelete(count);
      await client.quit();
      return { time: elapsedMs(started) };
    },
  };
}
