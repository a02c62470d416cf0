// RFC 6409 §8.3/§8.4 (issue 12): a client that submits without Message-ID and Date (python's
// smtplib.sendmail sends the bytes as given) gets both added, Message-ID on the submission host
// name. The local copy carries them in its stored envelope (what IMAP ENVELOPE shows); the copy
// relayed to another server carries them under the DKIM signature, which that server verifies.
// A message that has both keeps its own.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mailboxMessages, startSmtpHarness } from "../harness/smtp-harness.js";
import { inboxTexts, startOutboundPair } from "../harness/outbound-pair.js";
import { python } from "../harness/smtp-clients.js";

function submitScript(user: string, from: string, to: string[], header: string): string {
  return `
import smtplib, ssl, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="script.test")
s.starttls(context=ssl._create_unverified_context())
s.login("${user}", "${user.split("@")[0]}-pass")
msg = "${header}\\r\\nbody line\\r\\n"
print("refused", s.sendmail("${from}", ${JSON.stringify(to)}, msg))
s.quit()
`;
}

test("submission adds a missing Message-ID (on our host name) and Date; the stored envelope has them; present ones are kept", async () => {
  const h = await startSmtpHarness();
  try {
    const bare = await python(submitScript("alice@example.org", "alice@example.org", ["bob@example.org"], "From: alice@example.org\\r\\nTo: bob@example.org\\r\\nSubject: bare\\r\\n"), h.ports.submission);
    assert.equal(bare.code, 0, bare.stderr);
    const complete = await python(submitScript("alice@example.org", "alice@example.org", ["bob@example.org"], "From: alice@example.org\\r\\nSubject: complete\\r\\nDate: Thu, 1 Jan 2026 00:00:00 +0000\\r\\nMessage-ID: <mine@laptop.example>\\r\\n"), h.ports.submission);
    assert.equal(complete.code, 0, complete.stderr);
    const [first, second] = await mailboxMessages(h, h.accounts.bob);
    assert.match(first!.text, /\r\nDate: \w{3}, \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d \+0000\r\n/);
    assert.match(first!.text, /\r\nMessage-ID: <[0-9a-z]+\.[0-9a-f]+@mx\.example\.org>\r\n/);
    assert.equal(first!.text.match(/^Message-ID:/gim)?.length, 1);
    assert.equal(second!.text.match(/^Message-ID:/gim)?.length, 1);
    assert.match(second!.text, /\r\nMessage-ID: <mine@laptop\.example>\r\n/);
    assert.equal(second!.text.match(/^Date:/gim)?.length, 1);
    const inbox = (await h.temp.store.getMailbox(h.accounts.bob.id, "INBOX"))!;
    const [stored] = await h.temp.store.getMessages(inbox.id, (await h.temp.store.listMessages(inbox.id)).map((m) => m.uid));
    assert.match(stored!.envelope.messageId ?? "", /@mx\.example\.org>$/);
    assert.ok(stored!.envelope.date);
  } finally {
    await h.stop();
  }
});

test("a relayed message without Message-ID and Date gets both before DKIM signing; the receiver's DKIM check passes", async () => {
  const pair = await startOutboundPair();
  try {
    const attempt = pair.nextAttempt();
    const sent = await python(submitScript("alice@a.test", "alice@a.test", ["bob@b.test"], "From: alice@a.test\\r\\nTo: bob@b.test\\r\\nSubject: from a script\\r\\n"), pair.a.ports.submission!);
    assert.equal(sent.code, 0, sent.stderr);
    const report = await attempt;
    assert.deepEqual(report.outcomes.map((o) => o.state), ["delivered"], report.outcomes[0]?.diagnostic);
    const [text] = await inboxTexts(pair.b);
    assert.ok(text);
    assert.match(text, /\r\nMessage-ID: <[0-9a-z]+\.[0-9a-f]+@mx\.a\.test>\r\n/);
    assert.match(text, /\r\nDate: \w{3}, /);
    assert.match(text, /Authentication-Results: mx\.b\.test;[\s\S]*dkim=pass[\s\S]*header\.d=a\.test/);
    assert.doesNotMatch(text, /dkim=(fail|neutral)/);
    // The signature covers the added fields.
    const signature = /DKIM-Signature:[\s\S]*?\r\n(?=\S)/.exec(text)?.[0].replace(/\r\n\s+/g, " ") ?? "";
    assert.match(signature, /h=[^;]*\bdate\b/i);
    assert.match(signature, /h=[^;]*\bmessage-id\b/i);
  } finally {
    await pair.stop();
  }
});
