// Sieve vacation and redirect end to end: the composed server receives mail over SMTP port 25
// (python's smtplib, which can send MAIL FROM:<>), the script's follow-ups go through the outbound
// queue after the commit, and the outbound worker relays them to a smarthost that is a capturing
// SMTP receiver on loopback (the harness's Front in "capture" mode). What arrives there is what
// another server would get: the envelope (MAIL FROM) and the message as sent. The last test sets
// sieve.max_redirects_per_day on a server of its own.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createTableResolver, dkimTxtRecord, loadDkimKeys, verifyInbound } from "../../src/mail-auth/index.js";
import { createMemoryLogger } from "../../src/observability/log.js";
import { createAdmin, dkimKeyDirOf } from "../../src/server/compose.js";
import type { Account } from "../../src/store/index.js";
import { startFullServer, type FullServer } from "../harness/full-server.js";
import { Front } from "../harness/outbound-pair.js";
import { run } from "../harness/smtp-clients.js";

/** Sends each [mailFrom, rcpt, raw message] in one SMTP session; prints each reply code. */
const SEND = `
import json, smtplib, sys
port = int(sys.argv[1])
items = json.loads(sys.argv[2])
s = smtplib.SMTP("127.0.0.1", port, timeout=30)
s.ehlo("client.test")
codes = []
for mail_from, rcpt, raw in items:
    try:
        s.sendmail(mail_from, [rcpt], raw.encode("utf-8"))
        codes.append(250)
    except smtplib.SMTPException as e:
        codes.append(str(e))
s.quit()
print(json.dumps(codes))
`;

function message(from: string, subject: string, extra: string[] = [], id = `<${subject.replace(/\W+/g, ".")}@example.net>`): string {
  return [`From: <${from}>`, "To: Alice <alice@example.org>", `Subject: ${subject}`, `Message-ID: ${id}`, "Date: Thu, 03 Dec 2026 06:00:00 +0000", ...extra, "", "hello", ""].join("\r\n");
}

async function send(port: number, items: [string, string, string][]): Promise<void> {
  const result = await run("python3", ["-c", SEND, String(port), JSON.stringify(items)], undefined, 60_000);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(JSON.parse(result.stdout), items.map(() => 250), result.stdout);
}

async function waitFor(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The header block of a captured message, unfolded, as name (lowercase) -> values. */
function headers(data: Buffer): Map<string, string[]> {
  const text = data.toString("utf8");
  const head = text.slice(0, text.indexOf("\r\n\r\n")).replace(/\r\n[ \t]+/g, " ");
  const out = new Map<string, string[]>();
  for (const line of head.split("\r\n")) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon).trim().toLowerCase();
    out.set(name, [...(out.get(name) ?? []), line.slice(colon + 1).trim()]);
  }
  return out;
}

let full: FullServer;
let relay: Front;
let log: ReturnType<typeof createMemoryLogger>;
let alice: Account;

/** The composed server relaying all outbound mail to a capturing receiver; alice@example.org exists. */
async function start(extraToml = ""): Promise<{ full: FullServer; relay: Front; log: ReturnType<typeof createMemoryLogger>; alice: Account }> {
  const relay = new Front(0);
  relay.mode = "capture";
  await relay.listen();
  const log = createMemoryLogger();
  const full = await startFullServer({
    protocols: ["smtp"],
    log,
    extraToml: ["[outbound]", `smarthost = "127.0.0.1:${relay.port}"`, 'smarthost_tls = "none"', 'retry_schedule = ["200ms"]', extraToml, ""].join("\n"),
  });
  const admin = createAdmin(full.server.config, full.server.store);
  await admin.addDomain("example.org");
  await admin.addUser({ address: "alice@example.org", password: "correct horse battery" });
  const alice = (await full.server.store.accounts.findAccountByAddress("alice@example.org"))!;
  return { full, relay, log, alice };
}

before(async () => {
  ({ full, relay, log, alice } = await start());
});

after(async () => {
  await full?.stop();
  await relay?.close();
});

async function activate(content: string, server = full, account = alice): Promise<void> {
  const sieve = server.server.store.sieve!;
  await sieve.putSieveScript(account.id, "main", content, 10);
  await sieve.setActiveSieveScript(account.id, "main");
}

async function inboxSubjects(server = full, account = alice): Promise<string[]> {
  const { mail } = server.server.store;
  const inbox = (await mail.getMailbox(account.id, "INBOX"))!;
  const messages = await mail.getMessages(inbox.id, (await mail.listMessages(inbox.id)).map((m) => m.uid));
  const out: string[] = [];
  for (const m of messages) {
    const parts: Buffer[] = [];
    for await (const chunk of mail.openMessage(m)) parts.push(chunk as Buffer);
    out.push(headers(Buffer.concat(parts)).get("subject")?.[0] ?? "");
  }
  return out;
}

test("vacation: one reply per sender from the null sender, none to lists, auto-submitted mail or bounces", async () => {
  await activate('require "vacation";\nvacation :days 1 :addresses ["alice@example.org"] "I am away until Monday.";\n');
  relay.captured.length = 0;
  await send(full.portOf("smtp"), [
    ["friend@example.net", "alice@example.org", message("friend@example.net", "first note")],
    ["friend@example.net", "alice@example.org", message("friend@example.net", "second note")],
    ["list@example.net", "alice@example.org", message("list@example.net", "list post", ["Precedence: list"])],
    ["news@example.net", "alice@example.org", message("news@example.net", "newsletter", ["List-Id: <news.example.net>"])],
    ["robot@example.net", "alice@example.org", message("robot@example.net", "notification", ["Auto-Submitted: auto-generated"])],
    ["", "alice@example.org", message("mailer-daemon@example.net", "bounce")],
    // Last, from a sender who should get a reply: once it has arrived, the refusals had their turn too.
    ["other@example.net", "alice@example.org", message("other@example.net", "late note")],
  ]);
  await waitFor(() => relay.captured.length >= 2, "two vacation replies");
  // Give a wrongly queued third reply time to show up before counting.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  assert.equal(relay.captured.length, 2, relay.captured.map((c) => c.data.toString()).join("\n----\n"));

  const byRecipient = new Map(relay.captured.map((c) => [headers(c.data).get("to")![0]!, c]));
  const reply = byRecipient.get("<friend@example.net>");
  assert.ok(reply, `a reply to friend@example.net; got ${[...byRecipient.keys()].join(", ")}`);
  // RFC 5230 §5 / RFC 3834 §3.3: the reply's envelope sender is null.
  assert.match(reply.mailFrom, /^MAIL FROM:<>/i);
  const h = headers(reply.data);
  assert.equal(h.get("auto-submitted")?.[0]?.split(/[ ;(]/)[0], "auto-replied");
  assert.deepEqual(h.get("in-reply-to"), ["<first.note@example.net>"]);
  assert.deepEqual(h.get("references"), ["<first.note@example.net>"]);
  // RFC 5230 §4.1: without :subject, "Auto: " and the original subject.
  assert.deepEqual(h.get("subject"), ["Auto: first note"]);
  assert.match(h.get("from")![0]!, /alice@example\.org/);
  assert.match(reply.data.toString("utf8"), /\r\n\r\nI am away until Monday\./);
  assert.ok(byRecipient.has("<other@example.net>"));
  // The reply is DKIM-signed by the account's domain (the outbound signer cannot: MAIL FROM is null),
  // and the signature verifies against the keys `domain add` made, aligned with From for DMARC.
  const keys = (await loadDkimKeys(dkimKeyDirOf(full.server.config), "example.org"))!;
  const resolver = createTableResolver(Object.fromEntries(keys.keys.map((k) => [`${k.selector}._domainkey.example.org`, { TXT: [[dkimTxtRecord(k)]] }])));
  const verdict = await verifyInbound({ message: reply.data, clientIp: "127.0.0.1", heloName: "mx.example.org", mailFrom: "", receivingHost: "check.test", resolver });
  assert.deepEqual(verdict.dkim.map((d) => [d.domain, d.result, d.aligned]).sort(), keys.keys.map(() => ["example.org", "pass", true]));

  const reasons = log.records.filter((r) => r.event === "sieve.vacation_skipped").map((r) => `${String(r["sender"])}: ${String(r["reason"])}`);
  assert.deepEqual(reasons.sort(), [
    ": null sender",
    "friend@example.net: already answered within the period",
    "list@example.net: Precedence bulk/list/junk",
    "news@example.net: mailing list",
    "robot@example.net: Auto-Submitted",
  ]);
  // Vacation never takes the message away: every one is in INBOX (implicit keep).
  assert.equal((await inboxSubjects()).length, 7);
});

test("redirect: relayed with the original envelope sender; a message we already redirected is kept", async () => {
  await activate('redirect "carol@elsewhere.test";\n');
  relay.captured.length = 0;
  const before = (await inboxSubjects()).length;
  await send(full.portOf("smtp"), [
    ["sender@example.net", "alice@example.org", message("sender@example.net", "pass it on")],
    ["sender@example.net", "alice@example.org", message("sender@example.net", "came back", ["X-Mailroom-Sieve-Redirected: alice@example.org"])],
  ]);
  await waitFor(() => relay.captured.length >= 1, "the redirected message");
  await new Promise((resolve) => setTimeout(resolve, 1000));
  assert.equal(relay.captured.length, 1, relay.captured.map((c) => c.data.toString()).join("\n----\n"));
  const [redirected] = relay.captured;
  // RFC 5228 §4.2: the envelope sender stays the original one, so bounces go back to it.
  assert.match(redirected!.mailFrom, /^MAIL FROM:<sender@example\.net>/i);
  const h = headers(redirected!.data);
  assert.deepEqual(h.get("subject"), ["pass it on"]);
  assert.deepEqual(h.get("x-mailroom-sieve-redirected"), ["alice@example.org"], "our loop mark travels with the message");
  // The redirected message left no copy (no :copy); the looping one stayed in INBOX instead.
  assert.deepEqual((await inboxSubjects()).slice(before), ["came back"]);
  assert.ok(log.records.some((r) => r.event === "sieve.redirect_skipped" && /loop/.test(String(r["reason"]))));
});

test("redirect of an edited message (RFC 5293) relays the edited bytes; the INBOX copy keeps the later edits too", async () => {
  await activate(`require ["editheader", "copy"];
addheader "X-Forwarded-By" "alice's filter";
deleteheader "X-Private";
redirect :copy "carol@elsewhere.test";
addheader "X-After-Redirect" "1";
`);
  relay.captured.length = 0;
  const before = (await inboxSubjects()).length;
  await send(full.portOf("smtp"), [["sender@example.net", "alice@example.org", message("sender@example.net", "edited forward", ["X-Private: secret"])]]);
  await waitFor(() => relay.captured.length >= 1, "the redirected message");
  const h = headers(relay.captured[0]!.data);
  assert.deepEqual(h.get("x-forwarded-by"), ["alice's filter"]);
  assert.equal(h.get("x-private"), undefined, "deleted before the redirect");
  assert.equal(h.get("x-after-redirect"), undefined, "added after the redirect: not in the relayed copy");
  assert.deepEqual(h.get("x-mailroom-sieve-redirected"), ["alice@example.org"]);
  assert.ok(relay.captured[0]!.data.toString().endsWith("\r\n\r\nhello\r\n"), "body unchanged");
  // The implicit keep stores the final edit (RFC 5293 §7).
  const { mail } = full.server.store;
  const inbox = (await mail.getMailbox(alice.id, "INBOX"))!;
  const uids = (await mail.listMessages(inbox.id)).map((m) => m.uid);
  assert.equal(uids.length, before + 1);
  const [kept] = await mail.getMessages(inbox.id, [uids.at(-1)!]);
  const parts: Buffer[] = [];
  for await (const chunk of mail.openMessage(kept!)) parts.push(chunk as Buffer);
  const k = headers(Buffer.concat(parts));
  assert.deepEqual(k.get("subject"), ["edited forward"]);
  assert.deepEqual(k.get("x-after-redirect"), ["1"]);
  assert.deepEqual(k.get("x-forwarded-by"), ["alice's filter"]);
  assert.equal(k.get("x-private"), undefined);
});

test("redirect: sieve.max_redirects_per_day caps an account's redirects; the rest are kept in INBOX", async () => {
  const limited = await start("[sieve]\nmax_redirects_per_day = 2");
  try {
    await activate('redirect "carol@elsewhere.test";\n', limited.full, limited.alice);
    await send(limited.full.portOf("smtp"), ["one", "two", "three", "four"].map((s) => ["sender@example.net", "alice@example.org", message("sender@example.net", `forward ${s}`)] as [string, string, string]));
    await waitFor(() => limited.relay.captured.length >= 2, "two redirected messages");
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.deepEqual(limited.relay.captured.map((c) => headers(c.data).get("subject")?.[0]).sort(), ["forward one", "forward two"]);
    assert.deepEqual(await inboxSubjects(limited.full, limited.alice), ["forward three", "forward four"]);
    const skipped = limited.log.records.filter((r) => r.event === "sieve.redirect_skipped").map((r) => String(r["reason"]));
    assert.equal(skipped.length, 2);
    for (const reason of skipped) assert.match(reason, /daily limit of 2 redirects/);
  } finally {
    await limited.full.stop();
    await limited.relay.close();
  }
});
