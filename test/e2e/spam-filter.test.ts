// The inbound spam verdict end to end: a real server on port 25 asks a loopback DNS server (the
// test's own, RFC 1035 over UDP) for DNSBL, URIBL and PTR answers; python's smtplib sends three
// messages from the same listed address and python's imaplib reads the result: a complete message
// stays in INBOX marked "No", one with missing fields and a shouting subject goes to Junk with
// $Junk, one linking to a listed domain is refused 550 5.7.1. Every copy carries the iprev result
// in Authentication-Results and the tests in X-Spam-Status; the verdicts are in the log.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createMemoryLogger } from "../../src/observability/log.js";
import { createAdmin } from "../../src/server/compose.js";
import { startDnsServer } from "../harness/dns-server.js";
import { startFullServer } from "../harness/full-server.js";
import { runPython } from "../harness/python.js";

const SEND = `
import smtplib, sys, json
results = []
for body in sys.argv[2:]:
    s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="mail.sender.test")
    try:
        s.sendmail("news@sender.test", ["alice@example.org"], body.replace("\\n", "\\r\\n"))
        results.append([250, ""])
    except smtplib.SMTPDataError as e:
        results.append([e.smtp_code, e.smtp_error.decode()])
    s.quit()
print(json.dumps(results))
`;

const READ = `
import imaplib, json, ssl, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.starttls(ssl_context=ssl._create_unverified_context())
m.login("alice@example.org", "correct horse battery")
out = {}
for box in ["INBOX", "Junk"]:
    typ, data = m.select(box, readonly=True)
    items = []
    if int(data[0]) > 0:
        typ, data = m.fetch("1:*", "(FLAGS BODY.PEEK[HEADER])")
        for part in data:
            if isinstance(part, tuple):
                items.append([part[0].decode(), part[1].decode()])
    out[box] = items
print(json.dumps(out))
`;

const COMPLETE = "From: News <news@sender.test>\nTo: alice@example.org\nSubject: Monthly newsletter\nDate: Tue, 1 Dec 2026 10:00:00 +0000\nMessage-ID: <n1@sender.test>\n\nHello Alice.\n";
const SLOPPY = "From: news@sender.test\nTo: alice@example.org\nSubject: YOU HAVE WON A PRIZE TODAY\n\nClaim it.\n";
const LINKED = "From: News <news@sender.test>\nTo: alice@example.org\nSubject: Offer\nDate: Tue, 1 Dec 2026 10:00:00 +0000\nMessage-ID: <n3@sender.test>\n\nBuy now at http://www.cheap-pills.test/order\n";

test("spam verdicts over SMTP: INBOX below junk_score, Junk with $Junk above it, 550 5.7.1 above reject_score", async () => {
  const dns = await startDnsServer({
    // The client is 127.0.0.1: listed on bl.test, with a PTR that confirms (iprev pass).
    "1.0.0.127.bl.test": { A: ["127.0.0.2"] },
    "1.0.0.127.in-addr.arpa": { PTR: ["mail.sender.test"] },
    "mail.sender.test": { A: ["127.0.0.1"] },
    "cheap-pills.test.uri.test": { A: ["127.0.1.2"] },
  });
  const log = createMemoryLogger();
  const full = await startFullServer({
    protocols: ["smtp", "imap"],
    log,
    extraToml: `[outbound]\ndns_servers = ["127.0.0.1:${dns.port}"]\n[spam]\nexempt_networks = []\ndnsbl = { "bl.test" = 4.0 }\nuribl = { "uri.test" = 12.0 }\n`,
  });
  try {
    const admin = createAdmin(full.server.config, full.server.store);
    await admin.addDomain("example.org");
    await admin.addUser({ address: "alice@example.org", password: "correct horse battery" });
    const replies = JSON.parse(await runPython(SEND, [String(full.portOf("smtp")), COMPLETE, SLOPPY, LINKED])) as [number, string][];
    assert.equal(replies[0]![0], 250);
    assert.equal(replies[1]![0], 250);
    assert.equal(replies[2]![0], 550, "4.0 (DNSBL) + 12.0 (URIBL) + 1.5 (BODY_MOSTLY_LINKS) passes reject_score 15");
    assert.match(replies[2]![1], /^5\.7\.1 Message rejected as spam \(score 17\.5\)/);

    const boxes = JSON.parse(await runPython(READ, [String(full.portOf("imap"))])) as Record<string, [string, string][]>;
    assert.equal(boxes["INBOX"]!.length, 1);
    assert.equal(boxes["Junk"]!.length, 1);
    const [inboxFetch, inboxHeader] = boxes["INBOX"]![0]!;
    const inbox = inboxHeader.replace(/\r\n[\t ]+/g, " ");
    assert.match(inbox, /Subject: Monthly newsletter/);
    assert.match(inbox, /\r\nX-Spam-Status: No, score=4\.0 required=6\.0 tests=DNSBL_BL_TEST=4\.0\r\n/);
    assert.match(inbox, /Authentication-Results: mx\.example\.org;.*; iprev=pass policy\.iprev=127\.0\.0\.1 \(mail\.sender\.test\)\r\n/);
    assert.doesNotMatch(inboxFetch, /\$Junk/);

    const [junkFetch, junkHeader] = boxes["Junk"]![0]!;
    const junk = junkHeader.replace(/\r\n[\t ]+/g, " ");
    assert.match(junk, /Subject: YOU HAVE WON A PRIZE TODAY/);
    assert.match(junk, /X-Spam-Status: Yes, score=7\.0 required=6\.0 tests=DNSBL_BL_TEST=4\.0, MISSING_DATE=1\.2, MISSING_MESSAGE_ID=0\.8, SUBJECT_ALL_CAPS=1\.0\r\n/);
    assert.match(junk, /X-Spam-Score: 7\.0\r\n/);
    assert.match(junkFetch, /FLAGS \([^)]*\$Junk/);

    const verdicts = log.records.filter((e) => e.event === "spam.verdict");
    assert.deepEqual(verdicts.map((v) => v["action"]), ["accept", "junk", "reject"]);
    assert.match(String(verdicts[2]!["tests"]), /URIBL_URI_TEST=12\(cheap-pills\.test\)/);
  } finally {
    await full.stop();
    await dns.close();
  }
});

test("a DNS list that does not answer delays nothing past dns_timeout and scores nothing", async () => {
  const dns = await startDnsServer({ "1.0.0.127.slow.test": { A: { fail: "ETIMEOUT" } } });
  const log = createMemoryLogger();
  const full = await startFullServer({
    protocols: ["smtp", "imap"],
    log,
    extraToml: `[outbound]\ndns_servers = ["127.0.0.1:${dns.port}"]\n[spam]\nexempt_networks = []\niprev = false\ndnsbl = { "slow.test" = 20.0 }\ndns_timeout = "300ms"\n`,
  });
  try {
    const admin = createAdmin(full.server.config, full.server.store);
    await admin.addDomain("example.org");
    await admin.addUser({ address: "alice@example.org", password: "correct horse battery" });
    const started = Date.now();
    const replies = JSON.parse(await runPython(SEND, [String(full.portOf("smtp")), COMPLETE])) as [number, string][];
    assert.equal(replies[0]![0], 250);
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
    const warnings = log.records.filter((e) => e.event === "spam.dns_list_unavailable");
    assert.equal(warnings.length, 1);
    assert.match(String(warnings[0]!["reason"]), /slow\.test/);
  } finally {
    await full.stop();
    await dns.close();
  }
});

test("Sieve spamtest (RFC 5235) sees the verdict: a score of 4 with junk_score 6 is spamtest 4 and 33 %", async () => {
  const dns = await startDnsServer({ "1.0.0.127.bl.test": { A: ["127.0.0.2"] } });
  const full = await startFullServer({
    protocols: ["smtp", "imap"],
    extraToml: `[outbound]\ndns_servers = ["127.0.0.1:${dns.port}"]\n[spam]\nexempt_networks = []\niprev = false\ndnsbl = { "bl.test" = 4.0 }\n`,
  });
  try {
    const admin = createAdmin(full.server.config, full.server.store);
    await admin.addDomain("example.org");
    await admin.addUser({ address: "alice@example.org", password: "correct horse battery" });
    const alice = (await full.server.store.accounts.findAccountByAddress("alice@example.org"))!;
    const script = `require ["spamtest", "spamtestplus", "fileinto", "relational", "comparator-i;ascii-numeric", "mailbox"];
if allof (spamtest :value "eq" :comparator "i;ascii-numeric" "4", spamtest :percent :value "eq" :comparator "i;ascii-numeric" "33") { fileinto :create "Scored"; }`;
    await full.server.store.sieve!.putSieveScript(alice.id, "main", script, 10);
    await full.server.store.sieve!.setActiveSieveScript(alice.id, "main");
    const replies = JSON.parse(await runPython(SEND, [String(full.portOf("smtp")), COMPLETE])) as [number, string][];
    assert.equal(replies[0]![0], 250);
    const scored = await full.server.store.mail.getMailbox(alice.id, "Scored");
    assert.ok(scored, "the script filed the message by its spamtest value");
    assert.equal((await full.server.store.mail.mailboxStatus(scored.id)).messages, 1);
  } finally {
    await full.stop();
    await dns.close();
  }
});
