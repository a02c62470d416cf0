// Big-mailbox IMAP commands on a mailbox of N messages (issue #13), built outside the protocols
// (bench/lib/prefill.ts: Mailroom through its store API, Dovecot by writing its Maildir, then an
// untimed SELECT so Dovecot has indexed it). Each run logs in afresh and times, in one session:
// SELECT, FETCH 1:* (UID FLAGS), FETCH 1:* (ENVELOPE), FETCH 1:* (ENVELOPE BODYSTRUCTURE),
// FETCH 1:100 BODY[], UID SEARCH TEXT (a word in every 50th message, so the whole text is
// searched), UID SEARCH TEXT of a common word and BODY of a common phrase (issue 14), UID SEARCH
// SUBJECT (a header search), STORE 1:* +FLAGS (a new keyword per run, so
// every run changes every message); then a second session SELECTs while the first is still open.
// The server's peak RSS over the run is a row too (the memory target), and the database
// size over the mail it holds. The 1,000,000-message variant times only what the issue names:
// SELECT, UID FETCH of the last 50 (FLAGS ENVELOPE), a POP3 login, and peak RSS.
import { corpusArray, SEARCH_NEEDLE } from "../lib/corpus.js";
import { ImapClient } from "../lib/imap-client.js";
import { Pop3Client } from "../lib/pop3-client.js";
import { prefillMaildir, type PrefillSpec } from "../lib/prefill.js";
import { PeakRssSampler } from "../lib/process-rss.js";
import { elapsedMs } from "../lib/stats.js";
import type { Target } from "../servers/target.js";
import type { MetricSpec, Workload, WorkloadContext } from "./workload.js";

/** A syllable of bench/lib/corpus.ts's prose: in nearly every message. */
const COMMON_WORD = "rest";
/** Two common syllable-words side by side: a phrase in many messages. */
const COMMON_PHRASE = "ka lo";

const label = (n: number): string => (n >= 1_000_000 ? `${n / 1_000_000}M` : n >= 1000 ? `${n / 1000}k` : String(n));

const timed = async (step: () => Promise<unknown>): Promise<number> => {
  const started = process.hrtime.bigint();
  await step();
  return elapsedMs(started);
};

export type CorpusKind = "bench" | "small";

export interface MailboxOptions {
  messages: number;
  seed: number;
  /** "bench": the varied corpus (mean ~13 KB); "small": ~1 KB messages. */
  corpus?: CorpusKind;
  /** Only the 1M targets (SELECT, last-50 FETCH, POP3 login, RSS). */
  big?: boolean;
}

/** Writes Dovecot's Maildir (the peer) and lets Dovecot index it with an untimed SELECT. */
async function preparePeer(target: Target, spec: PrefillSpec, ctx: WorkloadContext): Promise<void> {
  if (target.role !== "peer" || !target.maildir) return;
  const account = target.account(spec.local);
  const { path, owner } = target.maildir(spec.local);
  ctx.say(`  writing ${target.label} Maildir with ${spec.count} messages (untimed) ...`);
  target.prefilled.set(spec.local, await prefillMaildir(path, account.address, spec, owner));
  ctx.say(`  letting Dovecot index it (untimed SELECT) ...`);
  const client = await ImapClient.login(target.endpoints.imap!, account.address, account.password, 3_600_000);
  try {
    await client.ok("SELECT INBOX");
    await client.ok("CLOSE");
  } finally {
    await client.logout();
  }
}

export function imapMailbox(options: MailboxOptions): Workload {
  const { messages } = options;
  const kind = options.corpus ?? "bench";
  const size = label(messages) + (kind === "small" ? " small" : "");
  const id = `imap-${label(messages).toLowerCase()}${kind === "small" && !options.big ? "-small" : ""}`;
  const local = `box${label(messages).toLowerCase()}${kind === "small" ? "s" : ""}`;
  // Built outside the protocols from 10k up; the quick 1k mailbox stays filled by APPEND.
  const spec: PrefillSpec | null =
    messages >= 10_000 ? { local, count: messages, corpus: { seed: options.seed + 11, ...(kind === "small" ? { bytes: 1_000 } : {}) } } : null;
  const at100k = messages >= 100_000;
  const rssLimit = options.big ? 600 : at100k ? 250 : undefined;
  const metric = (mid: string, title: string, goal?: MetricSpec["goal"]): MetricSpec => ({ id: mid, title: `${title} (${size})`, unit: "ms", better: "lower", ...(goal ? { goal } : {}) });
  const metrics: MetricSpec[] = options.big
    ? [
        metric("select", "SELECT", { max: 200 }),
        metric("fetchLast50", "UID FETCH last 50 (FLAGS ENVELOPE)", { max: 50 }),
        metric("pop3Login", "POP3 login (USER/PASS + STAT)", { max: 1000 }),
      ]
    : [
        metric("select", "SELECT", at100k ? { max: 50, minRatio: 1 } : { minRatio: 1 }),
        metric("fetchFlags", "FETCH 1:* (UID FLAGS)", { minRatio: 1 }),
        metric("fetchEnvelope", "FETCH 1:* (ENVELOPE)"),
        metric("fetchEnvBs", "FETCH 1:* (ENVELOPE BODYSTRUCTURE)", { minRatio: 1 }),
        metric("fetchBody", "FETCH 1:100 BODY[]", { minRatio: 1 }),
        metric("searchText", "UID SEARCH TEXT"),
        // Issue 14: a word most messages hold (4 characters: the index's candidates are verified)
        // and a two-word BODY phrase, both common in the corpus's syllable prose.
        metric("searchCommon", `UID SEARCH TEXT "${COMMON_WORD}" (common word)`, at100k ? { max: 100 } : undefined),
        metric("searchPhrase", `UID SEARCH BODY "${COMMON_PHRASE}" (phrase)`),
        metric("searchSubject", "UID SEARCH SUBJECT (header)", { minRatio: 1 }),
        metric("store", "STORE 1:* +FLAGS", { minRatio: 1 }),
        metric("select2", "second session SELECT"),
      ];
  metrics.push({ id: "peakRss", title: `server peak RSS over the run (${size})`, unit: "MiB", better: "lower", ...(rssLimit ? { goal: { max: rssLimit } } : {}) });
  if (spec) metrics.push({ id: "diskRatio", title: `index size / mail size (${size})`, unit: "x", better: "lower", ...(kind === "small" ? { goal: { max: 1.3 } } : {}) });
  return {
    id,
    title: `IMAP commands on a ${messages}-message mailbox${kind === "small" ? " of ~1 KB messages" : ""}`,
    needs: options.big ? ["imap", "pop3"] : ["imap"],
    metrics,
    ...(spec ? { prefill: [spec] } : {}),
    accounts: () => [local],
    async prepare(target, ctx) {
      const account = target.account(local);
      if (spec) return preparePeer(target, spec, ctx);
      ctx.say(`  filling ${target.label} INBOX with ${messages} messages (APPEND, untimed) ...`);
      const { appendOverImap } = await import("./delivery.js");
      await appendOverImap(target, account, corpusArray({ seed: options.seed + 11, count: messages, to: account.address }), 4, 16);
    },
    async run(target, _ctx, runIndex) {
      const account = target.account(local);
      const sampler = new PeakRssSampler(() => target.rootPids()).start();
      const values: Record<string, number> = {};
      try {
        const client = await ImapClient.login(target.endpoints.imap!, account.address, account.password, 3_600_000);
        try {
          values.select = await timed(() => client.ok("SELECT INBOX"));
          if (options.big) {
            values.fetchLast50 = await timed(async () => {
              const r = await client.ok(`FETCH ${messages - 49}:* (UID FLAGS ENVELOPE)`);
              if (r.untagged < 50) throw new Error(`FETCH of the last 50 returned ${r.untagged} responses`);
            });
            await client.ok("CLOSE");
          } else {
            values.fetchFlags = await timed(async () => {
              const r = await client.ok("FETCH 1:* (UID FLAGS)");
              if (r.untagged < messages) throw new Error(`FETCH 1:* returned ${r.untagged} responses for ${messages} messages`);
            });
            values.searchText = await timed(() => client.ok(`UID SEARCH TEXT ${SEARCH_NEEDLE}`));
            values.searchCommon = await timed(() => client.ok(`UID SEARCH TEXT "${COMMON_WORD}"`));
            values.searchPhrase = await timed(() => client.ok(`UID SEARCH BODY "${COMMON_PHRASE}"`));
            values.searchSubject = await timed(() => client.ok(`UID SEARCH SUBJECT "message 1${runIndex}"`));
            values.fetchEnvelope = await timed(() => client.ok("FETCH 1:* (ENVELOPE)"));
            values.fetchEnvBs = await timed(() => client.ok("FETCH 1:* (ENVELOPE BODYSTRUCTURE)"));
            values.fetchBody = await timed(() => client.ok(`FETCH 1:${Math.min(100, messages)} BODY[]`));
            values.store = await timed(() => client.ok(`STORE 1:* +FLAGS ($Bench${runIndex})`));
            const second = await ImapClient.login(target.endpoints.imap!, account.address, account.password, 3_600_000);
            try {
              values.select2 = await timed(() => second.ok("SELECT INBOX"));
            } finally {
              await second.logout();
            }
            await client.ok("CLOSE");
          }
        } finally {
          await client.logout();
        }
        if (options.big) {
          values.pop3Login = await timed(async () => {
            const pop = await Pop3Client.login(target.endpoints.pop3!, account.address, account.password);
            try {
              const stat = await pop.stat();
              if (stat.count < messages) throw new Error(`POP3 STAT counts ${stat.count} of ${messages}`);
            } finally {
              await pop.quit();
            }
          });
        }
      } finally {
        const peak = await sampler.stop();
        values.peakRss = peak.rssKib / 1024;
      }
      if (spec) {
        // Mailroom keeps every account in one database: its size is set against all the mail filled in.
        const mail = target.role === "mailroom" ? [...target.prefilled.values()].reduce((a, b) => a + b, 0) : target.prefilled.get(local);
        values.diskRatio = mail ? (await target.indexBytes(local)) / mail : NaN;
      }
      return values;
    },
  };
}
