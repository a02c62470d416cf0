// The classifier learns from the user, end to end: python's imaplib APPENDs messages and moves
// them into and out of Junk (UID MOVE, as Thunderbird and Apple Mail do), the server trains the
// account's statistics from those moves, and the next messages arriving by SMTP (smtplib) are
// filed by what was learnt: spam-like ones into Junk with $Junk and BAYES_99, ham-like ones into
// INBOX with BAYES_01. Moving a trained message back out of Junk retrains it as ham.
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "node:test";
import { createAdmin } from "../../src/server/compose.js";
import type { AccountId } from "../../src/store/index.js";
import { startFullServer } from "../harness/full-server.js";
import { runPython } from "../harness/python.js";

const SPAM_WORDS = "winner lottery casino bonus cheap pills prize claim urgent bitcoin investment guaranteed exclusive discount credit loan replica watches luxury pharmacy".split(" ");
const HAM_WORDS = "meeting project lunch report schedule review draft team weekend family invoice agenda deadline notes budget release minutes photos dinner slides".split(" ");

function body(words: string[], seed: number): string {
  const out: string[] = [];
  for (let i = 0; i < 40; i++) out.push(i % 3 === 0 ? "the" : words[(seed * 7 + i * 13) % words.length]!);
  return out.join(" ");
}

function message(subject: string, text: string, n: number): string {
  return `From: Someone <someone${n}@sender.test>\r\nTo: alice@example.org\r\nSubject: ${subject}\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\nMessage-ID: <m${n}@sender.test>\r\n\r\n${text}\r\n`;
}

const TRAIN = `
import imaplib, json, ssl, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.starttls(ssl_context=ssl._create_unverified_context())
m.login("alice@example.org", "correct horse battery")
spam = json.loads(sys.argv[2]); ham = json.loads(sys.argv[3])
for text in spam:
    m.append("INBOX", None, None, text.encode())
for text in ham:
    m.append("Junk", None, None, text.encode())
m.select("INBOX")
typ, data = m.uid("SEARCH", None, "ALL")
m.uid("MOVE", b",".join(data[0].split()).decode(), "Junk")
m.select("Junk")
typ, data = m.uid("SEARCH", None, "SUBJECT", "ham")
m.uid("MOVE", b",".join(data[0].split()).decode(), "INBOX")
m.logout()
`;

const SEND = `
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="mail.sender.test")
for text in sys.argv[2:]:
    s.sendmail("news@sender.test", ["alice@example.org"], text)
s.quit()
`;

const READ = `
import imaplib, json, ssl, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.starttls(ssl_context=ssl._create_unverified_context())
m.login("alice@example.org", "correct horse battery")
out = {}
for box in ["INBOX", "Junk"]:
    typ, data = m.select(box)
    typ, data = m.uid("SEARCH", None, "SUBJECT", "fresh")
    items = []
    for uid in data[0].split():
        typ, parts = m.uid("FETCH", uid, "(FLAGS BODY.PEEK[HEADER])")
        items.append([parts[0][0].decode(), parts[0][1].decode()])
    out[box] = items
if len(sys.argv) > 2:
    m.select("Junk")
    typ, data = m.uid("SEARCH", None, "SUBJECT", '"spam 0"')
    m.uid("MOVE", data[0].split()[0].decode(), "INBOX")
print(json.dumps(out))
`;

test("moves into and out of Junk train the account's classifier; new mail is filed by it", async () => {
  const full = await startFullServer({ protocols: ["smtp", "imap"], extraToml: `[spam]\nexempt_networks = []\niprev = false\nbayes_min_messages = 5\n` });
  try {
    const admin = createAdmin(full.server.config, full.server.store);
    await admin.addDomain("example.org");
    await admin.addUser({ address: "alice@example.org", password: "correct horse battery" });
    const alice = (await full.server.store.accounts.findAccountByAddress("alice@example.org"))!;
    const tokens = full.server.store.spam!;
    const totals = async () => {
      const counts = await tokens.readSpamTokens(alice.id as AccountId, []);
      return [counts.spamMessages, counts.hamMessages];
    };
    const waitFor = async (expected: number[]) => {
      for (let i = 0; i < 200 && JSON.stringify(await totals()) !== JSON.stringify(expected); i++) await sleep(50);
      assert.deepEqual(await totals(), expected);
    };

    const spam = Array.from({ length: 8 }, (_, i) => message(`spam ${i}`, body(SPAM_WORDS, i), i));
    const ham = Array.from({ length: 8 }, (_, i) => message(`ham ${i}`, body(HAM_WORDS, i), 100 + i));
    await runPython(TRAIN, [String(full.portOf("imap")), JSON.stringify(spam), JSON.stringify(ham)]);
    // APPENDing into Junk trains nothing; the moves train 8 spam and 8 ham.
    await waitFor([8, 8]);

    await runPython(SEND, [String(full.portOf("smtp")), message("fresh offer", body(SPAM_WORDS, 50), 200), message("fresh minutes", body(HAM_WORDS, 51), 201)]);
    const boxes = JSON.parse(await runPython(READ, [String(full.portOf("imap")), "retrain"])) as Record<string, [string, string][]>;
    assert.equal(boxes["Junk"]!.length, 1, JSON.stringify(boxes));
    assert.equal(boxes["INBOX"]!.length, 1);
    const [junkFetch, junkHeader] = boxes["Junk"]![0]!;
    assert.match(junkHeader, /Subject: fresh offer/);
    assert.match(junkHeader.replace(/\r\n[\t ]+/g, " "), /X-Spam-Status: Yes, score=6\.0 required=6\.0 tests=BAYES_99=6\.0\r\n/);
    assert.match(junkFetch, /\$Junk/);
    const [, inboxHeader] = boxes["INBOX"]![0]!;
    assert.match(inboxHeader, /Subject: fresh minutes/);
    assert.match(inboxHeader.replace(/\r\n[\t ]+/g, " "), /X-Spam-Status: No, score=-3\.0 required=6\.0 tests=BAYES_01=-3\.0\r\n/);

    // "spam 0" moved back to INBOX: its spam counts are taken back and it counts as ham.
    await waitFor([7, 9]);
  } finally {
    await full.stop();
  }
});
