// Big-mailbox IMAP commands on a mailbox of N varied messages (filled with APPEND, untimed): each
// run logs in afresh and times SELECT, FETCH 1:* (UID FLAGS), FETCH 1:100 BODY[], UID SEARCH TEXT
// (a word in every 50th message, so the whole text is searched) and STORE 1:* +FLAGS (a new keyword
// per run, so every run changes every message). Each is one row of the table.
import { corpusArray, SEARCH_NEEDLE } from "../lib/corpus.js";
import { ImapClient } from "../lib/imap-client.js";
import { elapsedMs } from "../lib/stats.js";
import { appendOverImap } from "./delivery.js";
import type { Workload } from "./workload.js";

const label = (n: number): string => (n >= 1000 ? `${n / 1000}k` : String(n));

export function imapMailbox(options: { messages: number; seed: number }): Workload {
  const { messages } = options;
  const size = label(messages);
  const local = `box${size}`;
  const timed = async (step: () => Promise<unknown>): Promise<number> => {
    const started = process.hrtime.bigint();
    await step();
    return elapsedMs(started);
  };
  return {
    id: `imap-${size}`,
    title: `IMAP commands on a ${messages}-message mailbox`,
    needs: ["imap"],
    metrics: [
      { id: "select", title: `SELECT (${size})`, unit: "ms", better: "lower" },
      { id: "fetchFlags", title: `FETCH 1:* (UID FLAGS) (${size})`, unit: "ms", better: "lower" },
      { id: "fetchBody", title: `FETCH 1:100 BODY[] (${size})`, unit: "ms", better: "lower" },
      { id: "search", title: `UID SEARCH TEXT (${size})`, unit: "ms", better: "lower" },
      { id: "store", title: `STORE 1:* +FLAGS (${size})`, unit: "ms", better: "lower" },
    ],
    accounts: () => [local],
    async prepare(target, ctx) {
      ctx.say(`  filling ${target.label} INBOX with ${messages} messages (APPEND, untimed) ...`);
      const account = target.account(local);
      // Chunks keep the corpus in memory small for the 100,000-message mailbox.
      const chunk = 5_000;
      for (let first = 0; first < messages; first += chunk) {
        const part = corpusArray({ seed: options.seed + 11 + first, count: Math.min(chunk, messages - first), to: account.address, firstIndex: first });
        await appendOverImap(target, account, part, 4, 16);
      }
    },
    async run(target, _ctx, runIndex) {
      const account = target.account(local);
      const client = await ImapClient.login(target.endpoints.imap!, account.address, account.password, 600_000);
      try {
        const select = await timed(() => client.ok("SELECT INBOX"));
        const fetchFlags = await timed(async () => {
          const r = await client.ok("FETCH 1:* (UID FLAGS)");
          if (r.untagged < messages) throw new Error(`FETCH 1:* returned ${r.untagged} responses for ${messages} messages`);
        });
        const fetchBody = await timed(() => client.ok(`FETCH 1:${Math.min(100, messages)} BODY[]`));
        const search = await timed(() => client.ok(`UID SEARCH TEXT ${SEARCH_NEEDLE}`));
        const store = await timed(() => client.ok(`STORE 1:* +FLAGS ($Bench${runIndex})`));
        await client.ok("CLOSE");
        return { select, fetchFlags, fetchBody, search, store };
      } finally {
        await client.logout();
      }
    },
  };
}
