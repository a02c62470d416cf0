// The per-day redirect limit of the Sieve filter (sieve.max_redirects_per_day) with a controlled
// clock: counted per account, starting again at the next UTC day, and a refused redirect keeps the
// message; and vacation replies carry no header field smuggled in through CR LF. The end-to-end
// proof over SMTP is test/e2e/sieve-vacation-redirect.test.ts.
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
    scripts: { getActiveSieveScript: async () => ({ name: "main", content: 'redirect "carol@elsewhere.test";\n' }) as never, getSieveScript: async () => null, claimVacationReply: async () => true, seenSieveDuplicates: async () => new Set<string>(), recordSieveDuplicates: async () => {} },
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

test("a vacation reply takes no header fields from the sender's Message-ID or a multi-line :from", async () => {
  const injected = Buffer.from("<id@example.net>\r\nBcc: victim@elsewhere.test").toString("base64");
  const message = `From: <sender@example.net>\r\nTo: <alice@example.org>\r\nSubject: hi\r\nMessage-ID: =?utf-8?B?${injected}?=\r\n\r\nhello\r\n`;
  const replies: string[] = [];
  const queued: string[][] = [];
  const log = createMemoryLogger();
  const filter = createSieveFilter({
    scripts: { getActiveSieveScript: async () => ({ name: "main", content: 'require "vacation";\nvacation :from text:\nalice@example.org\nBcc: other@elsewhere.test\n.\n "away";\n' }) as never, getSieveScript: async () => null, claimVacationReply: async () => true, seenSieveDuplicates: async () => new Set<string>(), recordSieveDuplicates: async () => {} },
    mail: {
      getMailbox: async () => null,
      createMailbox: async () => { throw new Error("unused"); },
      stageMessage: async (stream: Readable) => {
        const parts: Buffer[] = [];
        for await (const chunk of stream) parts.push(chunk as Buffer);
        replies.push(Buffer.concat(parts).toString("utf8"));
        return { blobId: "r", size: 0, parsed: {}, open: () => Readable.from([]), discard() {} } as unknown as StagedMessage;
      },
    },
    queue: { enqueue: async (request) => { queued.push(request.recipients.map((r) => r.address)); return {} as never; } },
    hostname: "mx.example.org",
    log,
  });
  const alice = account(1, "alice@example.org");
  const incoming = { blobId: "b", size: message.length, parsed: {} as StagedMessage["parsed"], open: () => Readable.from([Buffer.from(message)]), discard() {} } as unknown as StagedMessage;
  const envelope = { from: "sender@example.net", to: "alice@example.org" };
  const decision = (await filter.decide(incoming, alice, envelope))!;
  await filter.afterCommit(incoming, alice, envelope, decision);
  assert.deepEqual(queued, [["sender@example.net"]]);
  const head = replies[0]!.slice(0, replies[0]!.indexOf("\r\n\r\n"));
  assert.doesNotMatch(head, /^Bcc:/im);
  assert.doesNotMatch(head, /^In-Reply-To:/im, "a Message-ID that is not one msg-id is not echoed");
  assert.match(head, /^From: <alice@example\.org>$/m);
  assert.ok(log.records.some((r) => r.event === "sieve.vacation_from_invalid"));
});

test("editheader: edited copies are staged once per version, redirect sends them, release discards them; a limit keeps the original", async () => {
  const stagedBytes: string[] = [];
  const discarded: string[] = [];
  const enqueued: { bytes: string; prefix: string }[] = [];
  const log = createMemoryLogger();
  let script = "";
  const stagedOf = (text: string): StagedMessage =>
    ({ blobId: `e${stagedBytes.length}`, size: text.length, parsed: {}, open: () => Readable.from([Buffer.from(text)]), discard() { discarded.push(text); } }) as unknown as StagedMessage;
  const filter = createSieveFilter({
    scripts: { getActiveSieveScript: async () => ({ name: "main", content: script }) as never, getSieveScript: async () => null, claimVacationReply: async () => true, seenSieveDuplicates: async () => new Set<string>(), recordSieveDuplicates: async () => {} },
    mail: {
      getMailbox: async (_id: unknown, name: string) => ({ name }) as never,
      createMailbox: async () => { throw new Error("unused"); },
      stageMessage: async (stream: Readable) => {
        const parts: Buffer[] = [];
        for await (const chunk of stream) parts.push(chunk as Buffer);
        const text = Buffer.concat(parts).toString("utf8");
        stagedBytes.push(text);
        return stagedOf(text);
      },
    },
    queue: {
      enqueue: async (request) => {
        const parts: Buffer[] = [];
        for await (const chunk of request.message.open()) parts.push(chunk as Buffer);
        enqueued.push({ bytes: Buffer.concat(parts).toString("utf8"), prefix: request.prefix?.toString() ?? "" });
        return {} as never;
      },
    },
    hostname: "mx.example.org",
    log,
    limits: { ...DEFAULT_SIEVE_FILTER_LIMITS, maxHeaderEdits: 3 },
  });
  const alice = account(1, "alice@example.org");
  const envelope = { from: "sender@example.net", to: "alice@example.org" };
  script = `require ["editheader", "fileinto", "copy"];
fileinto :copy "Orig";
addheader "X-Step" "1";
redirect :copy "carol@elsewhere.test";
fileinto :copy "Step1";
addheader :last "X-Step" "2";
addheader "X-Mailroom-Sieve-Redirected" "forged@example.org";`;
  const decision = (await filter.decide(staged(), alice, envelope))!;
  assert.deepEqual(decision.files.map((f) => [f.mailbox, f.message ? "edited" : "original"]), [["Orig", "original"], ["Step1", "edited"], ["INBOX", "edited"]]);
  assert.equal(stagedBytes.length, 2, "two versions, each staged once (the redirect and Step1 share one)");
  assert.equal(stagedBytes[0], `X-Step: 1\r\n${raw}`);
  assert.equal(stagedBytes[1], `X-Step: 1\r\n${raw.replace("Subject: hi\r\n", "Subject: hi\r\nX-Step: 2\r\n")}`);
  assert.ok(log.records.some((r) => r.event === "sieve.edit_refused"), "the forged redirect mark is refused and logged");
  await filter.afterCommit(staged(), alice, envelope, decision);
  assert.deepEqual(enqueued, [{ bytes: `X-Step: 1\r\n${raw}`, prefix: "X-Mailroom-Sieve-Redirected: alice@example.org\r\n" }]);
  filter.release(decision);
  assert.equal(discarded.length, 2);

  // One edit too many: the run fails, the message is kept as received, nothing is staged.
  script = 'require "editheader"; addheader "X-1" "1"; addheader "X-2" "2"; addheader "X-3" "3"; addheader "X-4" "4";';
  const limited = (await filter.decide(staged(), alice, envelope))!;
  assert.deepEqual(limited.files, [{ mailbox: "INBOX", flags: [] }]);
  assert.equal(stagedBytes.length, 2);
  assert.ok(log.records.some((r) => r.event === "sieve.run_failed" && String(r["error"]).includes("editheader_max_edits")));
});

test("the account page's rules (account-rules) run before the active script: both act; alone without one; once when active; a broken own script leaves the rules", async () => {
  const rules = 'require "vacation";\nvacation :days 1 "away";\n';
  const scripts = new Map<string, string>();
  let activeName: string | null = null;
  const log = createMemoryLogger();
  const filter = createSieveFilter({
    scripts: {
      getActiveSieveScript: async () => (activeName === null ? null : ({ name: activeName, content: scripts.get(activeName)! } as never)),
      getSieveScript: async (_id, name) => (scripts.has(name) ? ({ name, content: scripts.get(name)! } as never) : null),
      claimVacationReply: async () => true,
      seenSieveDuplicates: async () => new Set<string>(),
      recordSieveDuplicates: async () => {},
    },
    mail: { getMailbox: async (_id, name) => (name === "Team" ? ({ name: "Team" } as never) : null), createMailbox: async () => { throw new Error("unused"); }, stageMessage: async () => { throw new Error("unused"); } },
    queue: { enqueue: async () => { throw new Error("unused"); } },
    hostname: "mx.example.org",
    log,
  });
  const alice = account(1, "alice@example.org");
  const envelope = { from: "sender@example.net", to: "alice@example.org" };
  const outcome = async () => {
    const decision = await filter.decide(staged(), alice, envelope);
    return decision === null ? null : { files: decision.files.map((f) => f.mailbox), followUps: decision.followUps.map((a) => a.type) };
  };
  assert.equal(await outcome(), null, "no script at all");
  scripts.set("account-rules", rules);
  assert.deepEqual(await outcome(), { files: ["INBOX"], followUps: ["vacation"] }, "the rules alone, not active");
  scripts.set("mine", 'require "fileinto";\nfileinto "Team";\n');
  activeName = "mine";
  assert.deepEqual(await outcome(), { files: ["Team"], followUps: ["vacation"] }, "both: her fileinto cancels the implicit keep, the reply goes out");
  scripts.set("mine", 'require "fileinto";\nif header :contains "subject" "hi" { stop; }\nfileinto "Team";\n');
  assert.deepEqual(await outcome(), { files: ["INBOX"], followUps: ["vacation"] }, "her stop ends the run after the rules ran");
  scripts.set("mine", "fileinto broken");
  assert.deepEqual(await outcome(), { files: ["INBOX"], followUps: ["vacation"] }, "her broken script: the rules alone");
  assert.ok(log.records.some((r) => r.event === "sieve.script_invalid" && r.script === "mine"));
  activeName = "account-rules";
  assert.deepEqual(await outcome(), { files: ["INBOX"], followUps: ["vacation"] }, "activated itself: run once");
  scripts.set("mine", 'require "include";\ninclude :personal :once "account-rules";\nkeep;\n');
  activeName = "mine";
  assert.deepEqual(await outcome(), { files: ["INBOX"], followUps: ["vacation"] }, "her script including the rules :once runs them once (no second vacation)");
});

test("the account page's rules and the user's script run separately: two vacations, her reject beside the forwarding, her failing script never lose the page's forwarding", async () => {
  const scripts = new Map<string, string>();
  const log = createMemoryLogger();
  const filter = createSieveFilter({
    scripts: {
      getActiveSieveScript: async () => ({ name: "mine", content: scripts.get("mine")! }) as never,
      getSieveScript: async (_id, name) => (scripts.has(name) ? ({ name, content: scripts.get(name)! } as never) : null),
      claimVacationReply: async () => true,
      seenSieveDuplicates: async () => new Set<string>(),
      recordSieveDuplicates: async () => {},
    },
    mail: { getMailbox: async (_id, name) => (name === "Team" ? ({ name: "Team" } as never) : null), createMailbox: async () => { throw new Error("unused"); }, stageMessage: async () => { throw new Error("unused"); } },
    queue: { enqueue: async () => { throw new Error("unused"); } },
    hostname: "mx.example.org",
    log,
  });
  const alice = account(1, "alice@example.org");
  const envelope = { from: "sender@example.net", to: "alice@example.org" };
  const outcome = async () => {
    const decision = (await filter.decide(staged(), alice, envelope))!;
    return {
      files: decision.files.map((f) => f.mailbox),
      reject: decision.reject,
      followUps: decision.followUps.map((a) => (a.type === "redirect" ? `redirect ${a.address}` : a.type === "vacation" ? `vacation ${a.reason}` : a.type)),
    };
  };
  // What the account page writes: forwarding with a copy kept, and an out-of-office reply.
  scripts.set("account-rules", 'require ["vacation", "copy"];\nredirect :copy "bob@elsewhere.test";\nvacation :days 1 "page away";\n');
  scripts.set("mine", 'require ["vacation", "fileinto"];\nvacation "my own reply";\nfileinto "Team";\n');
  assert.deepEqual(await outcome(), { files: ["Team"], reject: null, followUps: ["redirect bob@elsewhere.test", "vacation page away"] }, "both reply: the page's out-of-office wins, her fileinto and the forwarding stay");
  assert.ok(log.records.some((r) => r.event === "sieve.vacation_dropped"));

  scripts.set("mine", 'require "vacation";\nvacation "my own reply";\n');
  assert.deepEqual(await outcome(), { files: ["INBOX"], reject: null, followUps: ["redirect bob@elsewhere.test", "vacation page away"] }, "redirect :copy and vacation leave the implicit keep to her script");

  scripts.set("account-rules", 'redirect "bob@elsewhere.test";\n');
  scripts.set("mine", 'require "reject";\nreject "not here";\n');
  assert.deepEqual(await outcome(), { files: [], reject: null, followUps: ["redirect bob@elsewhere.test"] }, "her reject beside the page's forwarding: forwarded, not rejected, not lost");
  assert.ok(log.records.some((r) => r.event === "sieve.run_failed" && String(r["error"]).includes("reject conflicts")));

  scripts.set("account-rules", 'require "copy";\nredirect :copy "bob@elsewhere.test";\n');
  assert.deepEqual(await outcome(), { files: ["INBOX"], reject: null, followUps: ["redirect bob@elsewhere.test"] }, "forwarding with a copy and her failed reject: kept and forwarded");

  scripts.set("account-rules", 'if false { redirect "bob@elsewhere.test"; }\n');
  assert.deepEqual(await outcome(), { files: [], reject: "not here", followUps: [] }, "her reject alone applies when the page does nothing");

  scripts.set("account-rules", 'redirect "bob@elsewhere.test";\n');
  scripts.set("mine", 'require ["fileinto", "variables"];\nset "n" "${1}";\nfileinto "Team";\nif string :is "a" "a" { redirect "x@elsewhere.test"; redirect "y@elsewhere.test"; redirect "z@elsewhere.test"; redirect "w@elsewhere.test"; redirect "v@elsewhere.test"; }\n');
  assert.deepEqual(await outcome(), { files: [], reject: null, followUps: ["redirect bob@elsewhere.test"] }, "her script fails at run time (too many redirects): the page's forwarding still goes, without a keep it cancelled");
  assert.ok(log.records.some((r) => r.event === "sieve.run_failed" && r["script"] === "mine"));

  scripts.set("account-rules", 'require "copy";\nredirect :copy "bob@elsewhere.test";\n');
  assert.deepEqual(await outcome(), { files: ["INBOX"], reject: null, followUps: ["redirect bob@elsewhere.test"] }, "her failed run gives the implicit keep beside the forwarding");
});
