// Many IDLE clients on one mailbox (RFC 2177): N connections log in, SELECT INBOX and IDLE. Four
// numbers: the time to bring all N into IDLE, the server's memory per connection (the tree's RSS,
// and its PSS, with all N idle minus before, over N), and the time from the SMTP connect of one
// delivery until every client has seen the new EXISTS. Opening stops early, failing the run, if the
// machine runs low on memory (a multi-process peer may need gigabytes for 10,000 connections).
import { corpusArray } from "../lib/corpus.js";
import { ImapClient } from "../lib/imap-client.js";
import { freemem } from "node:os";
import { treeMemory, treePssKib } from "../lib/process-rss.js";
import { elapsedMs } from "../lib/stats.js";
import { deliverOverSmtp, stuffAll } from "./delivery.js";
import type { Workload } from "./workload.js";

const OPEN_CONCURRENCY = 100;
const MIN_FREE_BYTES = 2 * 2 ** 30;

interface Idler {
  client: ImapClient;
  exists: number;
}

export function idleFanout(options: { connections: number; seed: number }): Workload {
  const { connections } = options;
  const local = "idler";
  const size = connections >= 1000 ? `${connections / 1000}k` : String(connections);
  const message = stuffAll(corpusArray({ seed: options.seed + 17, count: 1, bytes: 5 * 1024, to: "idler@bench.test" }));
  return {
    id: `idle-${size}`,
    title: `${connections} concurrent IDLE connections on one mailbox`,
    needs: ["smtp", "imap"],
    metrics: [
      { id: "open", title: `IDLE x${size}: log in, SELECT, IDLE all`, unit: "ms", better: "lower" },
      { id: "rssPerConnection", title: `IDLE x${size}: server RSS per connection`, unit: "KiB", better: "lower" },
      { id: "pssPerConnection", title: `IDLE x${size}: server PSS per connection`, unit: "KiB", better: "lower" },
      { id: "fanout", title: `IDLE x${size}: delivery seen by all`, unit: "ms", better: "lower" },
    ],
    accounts: () => [local],
    async run(target) {
      const account = target.account(local);
      const imap = target.endpoints.imap!;
      const before = await treeMemory(target.rootPids());
      const pssBefore = await treePssKib(target.rootPids());
      const idlers: Idler[] = [];
      try {
        const openStarted = process.hrtime.bigint();
        let opened = 0;
        await Promise.all(
          Array.from({ length: OPEN_CONCURRENCY }, async () => {
            while (opened < connections) {
              if (freemem() < MIN_FREE_BYTES) throw new Error(`stopped at ${opened} connections: less than 2 GiB of memory left on this machine`);
              opened++;
              const client = await ImapClient.login(imap, account.address, account.password, 300_000);
              const idler: Idler = { client, exists: 0 };
              idlers.push(idler);
              const selected = await client.ok("SELECT INBOX", true);
              for (const line of selected.lines) {
                const m = /^\* (\d+) EXISTS/i.exec(line);
                if (m) idler.exists = Number(m[1]);
              }
              await client.idle();
            }
          }),
        );
        const open = elapsedMs(openStarted);
        const after = await treeMemory(target.rootPids());
        const rssPerConnection = Math.max(0, after.rssKib - before.rssKib) / connections;
        const pssPerConnection = Math.max(0, (await treePssKib(target.rootPids())) - pssBefore) / connections;

        let waiting = idlers.length;
        const allSeen = new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`${waiting} of ${idlers.length} IDLE clients saw no EXISTS within 300 s`)), 300_000);
          for (const idler of idlers) {
            const target = idler.exists + 1;
            let seen = false;
            idler.client.onUntagged = (line) => {
              const m = /^\* (\d+) EXISTS/i.exec(line);
              if (!seen && m && Number(m[1]) >= target) {
                seen = true;
                if (--waiting === 0) { clearTimeout(timer); resolve(); }
              }
            };
          }
        });
        const started = process.hrtime.bigint();
        await deliverOverSmtp(target, account, message, 1);
        await allSeen;
        return { open, rssPerConnection, pssPerConnection, fanout: elapsedMs(started) };
      } finally {
        for (const idler of idlers) idler.client.close();
      }
    },
  };
}
