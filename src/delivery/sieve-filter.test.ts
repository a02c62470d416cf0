// The per-day redirect limit of the Sieve filter (sieve.max_redirects_per_day) with a controlled
// clock: counted per account, starting again at the next UTC day, and a refused redirect keeps the
// message. The end-to-end proof over SMTP is test/e2e/sieve-vacation-redirect.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { createMemoryLogger } from "../observability/log.js";
import type { Account, StagedMessage } from "../store/index.js";
import { asAccountId } from "../store/index.js";
import { createSieveFilter, DEFAULT_SIEVE_FILTER_LIMITS } from "./sieve-filter.js";

function account(id: number, address: string): Account {
  return { id: asAccountId(id), address, passwordHash: "", quotaBytes: null, usedBytes: 0, pop3: { mode: "keep", markSeen: true, loginDelaySeconds: null, expireDays: null }, createdAt: new Date(0) };
}

const raw = "From: <sender@example.net>\r\nTo: <alice@example.org>\r\nSubject: hi\r\n\r\nhello\r\n";
const staged = () => ({ blobId: "b", size: raw.length, parsed: {} as StagedMessage["parsed"], open: () => Readable.from([Buffer.from(raw)]), discard() {} }) as unknown as StagedMessage;

test("redirects per UTC day are counted per account and start again the next day", async () => {
  let now = new Date("2026-12-03T23:59:00Z");
  const log = createMemoryLogger();
  const filter = createSieveFilter({
    scripts: { getActiveSieveScript: async () => ({ name: "main", content: 'redirect "carol@elsewhere.test";\n' }) as never, claimVacationReply: async () => true },
    mail: { getMailbox: async () => null, createMailbox: async () => { throw new Error("unused"); }, stageMessage: async () => { throw new Error("unused"); } },
    queue: { enqueue: async () => { throw new Error("unused"); } },
    hostname: "mx.example.org",
    log,
    limits: { ...DEFAULT_SIEVE_FILTER_LIMITS, maxRedirectsPerDay: 2 },
    clock: () => now,
  });
  const alice = account(1, "alice@example.org");
  const bob = account(2, "bob@example.org");
  const envelope = { from: "sender@example.net", to: "alice@example.org" };
  const outcome = async (who: Account) => {
    const decision = (await filter.decide(staged(), who, envelope))!;
    return decision.followUps.some((a) => a.type === "redirect") ? "redirect" : decision.files.map((f) => f.mailbox).join(",");
  };
  assert.equal(await outcome(alice), "redirect");
  assert.equal(await outcome(alice), "redirect");
  assert.equal(await outcome(alice), "INBOX", "the third redirect of the day keeps the message");
  assert.equal(await outcome(bob), "redirect", "another account has a count of its own");
  now = new Date("2026-12-04T00:00:01Z");
  assert.equal(await outcome(alice), "redirect", "a new UTC day starts the count again");
  assert.equal(log.records.filter((r) => r.event === "sieve.redirect_skipped").length, 1);
});
