// Sieve at delivery (issue 18): SMTP inbound throughput with a 50-rule script active against the
// same delivery with no script, in the same run on the same server, timed like smtp-delivery
// (each round from its first connect until its last message is readable over IMAP), in ten
// alternating rounds per side. The rules are what people write:
// list and sender filing, subject and address matches, wildcards, a few regexes, variables, flags
// and one body rule; none files these messages away, so every rule is evaluated and the message
// stays in INBOX (with a flag), which is what the counter sees. Mailroom only: the peer runs no
// Sieve in this setup (Postfix delivers to Dovecot LMTP without Pigeonhole).
import { corpusArray } from "../lib/corpus.js";
import { elapsedMs } from "../lib/stats.js";
import type { Target } from "../servers/target.js";
import { deliverOverSmtp, openCounter, stuffAll, waitForCount } from "./delivery.js";
import type { Workload } from "./workload.js";

/** The 50-rule script: 50 if-statements, each one test (some allof/anyof) and one action. */
export function fiftyRuleScript(): string {
  const lines = ['require ["fileinto", "imap4flags", "variables", "envelope", "subaddress", "regex", "body", "relational", "comparator-i;ascii-numeric", "mailbox"];'];
  const rule = (test: string, action: string) => lines.push(`if ${test} {\n  ${action}\n}`);
  for (let i = 0; i < 15; i++) rule(`header :contains "list-id" "project${i}.lists.example.net"`, `fileinto :create "Lists/project${i}";\n  stop;`);
  for (let i = 0; i < 10; i++) rule(`address :is "from" "colleague${i}@example.com"`, `fileinto :create "Team/colleague${i}";`);
  for (let i = 0; i < 5; i++) rule(`address :domain :is ["from", "sender"] "vendor${i}.example"`, `fileinto :create "Vendors";`);
  for (let i = 0; i < 5; i++) rule(`header :matches "subject" "*[ticket-${i}*]*"`, `set "ticket" "\${2}";\n  fileinto :create "Tickets/${i}";`);
  for (let i = 0; i < 5; i++) rule(`header :regex "subject" "^(invoice|receipt) #[0-9]{${4 + i}}$"`, `fileinto :create "Receipts";`);
  rule(`envelope :detail "to" "newsletter"`, `fileinto :create "Newsletters";`);
  rule(`anyof (header :contains "x-spam-flag" "yes", header :value "ge" :comparator "i;ascii-numeric" "x-spam-score" "8")`, `fileinto :create "Junk";\n  stop;`);
  rule(`allof (header :contains "subject" "urgent", address :domain "from" "example.com")`, `addflag "\\\\Flagged";`);
  rule(`header :contains "precedence" ["bulk", "list", "junk"]`, `addflag "bulk";`);
  rule(`exists "list-unsubscribe"`, `addflag "has-unsubscribe";`);
  rule(`header :contains "subject" "out of office"`, `discard;\n  stop;`);
  rule(`size :over 5M`, `fileinto :create "Large";`);
  rule(`body :text :contains "unsubscribe from the zanzibar programme"`, `fileinto :create "Programme";`);
  rule(`header :contains "x-mailer" "bulkmailer"`, `fileinto :create "Bulk";`);
  rule(`header :matches "subject" "message *"`, `addflag "sorted";`);
  return `${lines.join("\n")}\n`;
}

export function sieveDelivery(options: { messages: number; clients: number; seed: number }): Workload {
  const { messages, clients } = options;
  const kib = 5;
  const plain = (run: number) => `sievenone${run}`;
  const filtered = (run: number) => `sieve50r${run}`;
  const corpus = stuffAll(corpusArray({ seed: options.seed + 50, count: messages, bytes: kib * 1024, to: "rcpt@bench.test" }));
  const script = fiftyRuleScript();
  // The machine's load drifts (other work, fsync latency); delivering in alternating rounds to the
  // two accounts, and summing each side's time, compares them under the same conditions.
  const rounds = 10;
  const chunk = Math.ceil(messages / rounds);
  const paired = async (target: Target, plainLocal: string, filteredLocal: string, sieveFirst: boolean): Promise<{ plain: number; sieve: number }> => {
    const sides = [
      { local: plainLocal, ms: 0, delivered: 0 },
      { local: filteredLocal, ms: 0, delivered: 0 },
    ];
    const counters = await Promise.all(sides.map((side) => openCounter(target, target.account(side.local))));
    try {
      for (let round = 0; round < rounds; round++) {
        const batch = corpus.slice(round * chunk, (round + 1) * chunk);
        if (batch.length === 0) break;
        const order = (round % 2 === 0) === sieveFirst ? [1, 0] : [0, 1];
        for (const which of order) {
          const side = sides[which]!;
          const counter = counters[which]!;
          const started = process.hrtime.bigint();
          await deliverOverSmtp(target, target.account(side.local), batch, clients);
          side.delivered += batch.length;
          await waitForCount(counter, side.delivered, 300_000, counter.probe === "imap" ? 5 : 25);
          side.ms += elapsedMs(started);
        }
      }
    } finally {
      await Promise.all(counters.map((c) => c.close()));
    }
    return { plain: sides[0]!.delivered / (sides[0]!.ms / 1000), sieve: sides[1]!.delivered / (sides[1]!.ms / 1000) };
  };
  return {
    id: "sieve-50-rules",
    title: `SMTP inbound ${kib} KB x${clients}, ${messages} msgs: no script vs a 50-rule Sieve script`,
    needs: ["smtp"],
    peerSkip: "not measured: the peer delivers without Sieve (no Pigeonhole in this setup)",
    metrics: [
      { id: "plain", title: "SMTP inbound, no Sieve script", unit: "msg/s", better: "higher" },
      { id: "sieve", title: "SMTP inbound, 50-rule Sieve script", unit: "msg/s", better: "higher" },
      // Issue 18: at most 20 % fewer messages a second with the script.
      { id: "loss", title: "throughput lost to the 50-rule script", unit: "%", better: "lower", goal: { max: 20 } },
    ],
    accounts: (runs) => Array.from({ length: runs }, (_, r) => [plain(r), filtered(r)]).flat(),
    async prepare(target, ctx) {
      if (!target.putSieveScript) throw new Error(`${target.label} cannot store Sieve scripts`);
      ctx.say("  storing the 50-rule script for the filtered accounts ...");
      for (let r = 0; r < ctx.options.runs; r++) await target.putSieveScript(filtered(r), "fifty", script);
    },
    async run(target, _ctx, runIndex) {
      const { plain: plainRate, sieve: sieveRate } = await paired(target, plain(runIndex), filtered(runIndex), runIndex % 2 === 1);
      // Negative when the script side happened to be faster (noise): reported as measured.
      return { plain: plainRate, sieve: sieveRate, loss: (1 - sieveRate / plainRate) * 100 };
    },
  };
}
