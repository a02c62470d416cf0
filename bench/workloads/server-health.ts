// Issue #13's whole-server targets:
//  - server-idle: RSS of the server tree with nothing to do (first in the run, after start-up).
//  - smtp-load: while N SMTP clients deliver to one account, an idle IMAP session of another account (INBOX selected) sends NOOP
//    every 20 ms; the 99th percentile and the longest NOOP round trip are rows, and for Mailroom the
//    99th percentile event-loop stall read from the server (`mailroom status`, reset before the load;
//    src/server/event-loop-monitor.ts). Dovecot has no event loop to report: that row is Mailroom's.
//  - big-message: one 25 MB message in by SMTP (connect to 250), out by IMAP FETCH BODY[] and by
//    POP3 RETR, as MB/s, and how much the server's RSS grew over its idle level meanwhile.
import { ImapClient } from "../lib/imap-client.js";
import { Pop3Client } from "../lib/pop3-client.js";
import { PeakRssSampler, treeMemory } from "../lib/process-rss.js";
import { dotStuff, SmtpSender } from "../lib/smtp-sender.js";
import { runSmtpLoad, syntheticMessage } from "../lib/smtp-load.js";
import { elapsedMs } from "../lib/stats.js";
import { waitForCount } from "./delivery.js";
import type { Workload } from "./workload.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export function serverIdle(): Workload {
  return {
    id: "server-idle",
    title: "idle server RSS",
    needs: ["imap"],
    metrics: [{ id: "rss", title: "idle server RSS", unit: "MiB", better: "lower", goal: { max: 60 } }],
    accounts: () => [],
    async run(target) {
      // Let start-up garbage settle; the figure is the tree's RSS, summed as elsewhere in the bench.
      await sleep(2_000);
      return { rss: (await treeMemory(target.rootPids())).rssKib / 1024 };
    },
  };
}

export function smtpLoadLatency(options: { messages: number; clients: number }): Workload {
  const local = "loadnoop";
  // The load goes to another account, so the idle session really is idle (no new mail to report).
  const sink = "loadsink";
  return {
    id: "smtp-load",
    title: `NOOP latency and event loop under SMTP load (${options.messages} x 5 KB, ${options.clients} clients)`,
    needs: ["smtp", "imap"],
    metrics: [
      { id: "noopP99", title: "idle session NOOP p99 under SMTP load", unit: "ms", better: "lower", goal: { max: 20 } },
      { id: "noopMax", title: "idle session NOOP max under SMTP load", unit: "ms", better: "lower" },
      { id: "loopP99", title: "event-loop delay p99 under SMTP load", unit: "ms", better: "lower", goal: { max: 20 }, mailroomOnly: "Dovecot and Postfix have no event loop to report" },
      { id: "rate", title: "SMTP load rate (the load itself)", unit: "msg/s", better: "higher" },
    ],
    accounts: () => [local, sink],
    async run(target) {
      const account = target.account(local);
      const idle = await ImapClient.login(target.endpoints.imap!, account.address, account.password);
      const latencies: number[] = [];
      try {
        await idle.ok("SELECT INBOX");
        await target.eventLoop?.(true);
        let loading = true;
        const pinger = (async () => {
          while (loading) {
            const started = process.hrtime.bigint();
            await idle.ok("NOOP");
            latencies.push(elapsedMs(started));
            await sleep(20);
          }
        })();
        const smtp = target.endpoints.smtp!;
        const load = await runSmtpLoad({ host: smtp.host, port: smtp.port, clients: options.clients, messages: options.messages, messageSize: 5 * 1024, pipelining: true, to: target.account(sink).address }).finally(() => {
          loading = false;
        });
        await pinger;
        const loop = target.eventLoop ? await target.eventLoop(false) : null;
        return { noopP99: percentile(latencies, 99), noopMax: Math.max(...latencies), rate: load.messagesPerSecond, ...(loop ? { loopP99: loop.p99StallMs } : {}) };
      } finally {
        await idle.logout();
      }
    },
  };
}

export function bigMessage(options: { megabytes: number; runs: number }): Workload {
  const bytes = options.megabytes * 1_000_000;
  // One account for every run: each run's POP3 RETR+DELE leaves the INBOX empty again.
  const account = (_run: number) => "bigmsg";
  const label = `${options.megabytes} MB`;
  return {
    id: "big-message",
    title: `one ${label} message in by SMTP, out by IMAP and POP3`,
    needs: ["smtp", "imap", "pop3"],
    metrics: [
      { id: "smtpIn", title: `${label} in by SMTP`, unit: "MB/s", better: "higher", goal: { max: 100 } },
      { id: "imapOut", title: `${label} out by IMAP FETCH BODY[]`, unit: "MB/s", better: "higher", goal: { max: 100 } },
      { id: "pop3Out", title: `${label} out by POP3 RETR`, unit: "MB/s", better: "higher", goal: { max: 100 } },
      { id: "rssGrowth", title: `${label}: server RSS growth over idle`, unit: "MiB", better: "lower", goal: { max: 64 } },
    ],
    accounts: () => [account(0)],
    async run(target, _ctx, runIndex) {
      const to = target.account(account(runIndex));
      const body = dotStuff(syntheticMessage(runIndex, bytes));
      const baseline = (await treeMemory(target.rootPids())).rssKib;
      const sampler = new PeakRssSampler(() => target.rootPids(), 20).start();
      try {
        const inStarted = process.hrtime.bigint();
        const sender = await SmtpSender.open(target.endpoints.smtp!);
        await sender.send({ from: "sender@corpus.invalid", to: to.address }, body);
        const smtpMs = elapsedMs(inStarted);
        await sender.quit();
        const imap = await ImapClient.login(target.endpoints.imap!, to.address, to.password);
        let imapMs: number;
        try {
          // Postfix delivers to Dovecot after its 250: wait until the message is there.
          await waitForCount({ count: () => imap.messageCount("INBOX") }, 1, 120_000, 20);
          await imap.ok("EXAMINE INBOX");
          const started = process.hrtime.bigint();
          await imap.ok("FETCH 1 BODY.PEEK[]");
          imapMs = elapsedMs(started);
        } finally {
          await imap.logout();
        }
        const popStarted = process.hrtime.bigint();
        const pop = await Pop3Client.login(target.endpoints.pop3!, to.address, to.password);
        await pop.downloadAndDelete(1);
        await pop.quit();
        const popMs = elapsedMs(popStarted);
        const mb = bytes / 1e6;
        const peak = await sampler.stop();
        return { smtpIn: mb / (smtpMs / 1000), imapOut: mb / (imapMs / 1000), pop3Out: mb / (popMs / 1000), rssGrowth: Math.max(0, peak.rssKib - baseline) / 1024 };
      } finally {
        await sampler.stop();
      }
    },
  };
}
