// More real clients against the SMTP engine: curl (plain on 25, STARTTLS + AUTH on 587 with
// --ssl-reqd, implicit TLS on 465 with smtps://) and python3 smtplib with SMTPUTF8 (RFC 6531) and
// with BDAT (RFC 3030), which smtplib has no method for but can send through putcmd/send/getreply.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { mailboxMessages, startSmtpHarness, type SmtpHarness } from "../harness/smtp-harness.js";
import { python, run } from "../harness/smtp-clients.js";

async function messageFile(h: SmtpHarness, name: string, text: string): Promise<string> {
  const path = join(h.temp.dataDir, name);
  await writeFile(path, text.replace(/\r?\n/g, "\r\n"));
  return path;
}

test("curl smtp:// delivers to a local account on the mx port; a dot at a line start is stuffed by curl and unstuffed by us", async () => {
  const h = await startSmtpHarness();
  try {
    const file = await messageFile(h, "msg.eml", "From: <sender@ext.example>\nTo: <alice@example.org>\nSubject: via curl\n\nline one\n.hidden dot line\nend\n");
    // The URL path is curl's EHLO name.
    const result = await run("curl", ["-sS", "--max-time", "15", `smtp://127.0.0.1:${h.ports.mx}/curl.test`, "--mail-from", "sender@ext.example", "--mail-rcpt", "alice@example.org", "--upload-file", file]);
    assert.equal(result.code, 0, result.stderr);
    const [message] = await mailboxMessages(h, h.accounts.alice);
    assert.ok(message);
    assert.match(message.text.replace(/\r\n\t/g, " "), /^Return-Path: <sender@ext\.example>\r\nReceived: from curl\.test \(\[127\.0\.0\.1\]\) by mx\.example\.org with ESMTP /);
    assert.ok(message.text.endsWith("Subject: via curl\r\n\r\nline one\r\n.hidden dot line\r\nend\r\n"), JSON.stringify(message.text));
  } finally {
    await h.stop();
  }
});

test("curl submission: --ssl-reqd --user on 587 (STARTTLS + AUTH) and smtps:// on 465; a wrong password fails", async () => {
  const h = await startSmtpHarness();
  try {
    const file = await messageFile(h, "sub.eml", "From: <bob@example.org>\nTo: <carol@example.org>\nSubject: curl submission\n\nhello\n");
    const common = ["-sS", "--max-time", "15", "-k", "--mail-from", "bob@example.org", "--mail-rcpt", "carol@example.org", "--upload-file", file];
    const starttls = await run("curl", [`smtp://127.0.0.1:${h.ports.submission}/curl.test`, "--ssl-reqd", "--user", "bob@example.org:bob-pass", ...common]);
    assert.equal(starttls.code, 0, starttls.stderr);
    const implicit = await run("curl", [`smtps://127.0.0.1:${h.ports.submissions}/curl.test`, "--user", "bob@example.org:bob-pass", ...common]);
    assert.equal(implicit.code, 0, implicit.stderr);
    // curl exit 67: "The user name, password, or similar was not accepted".
    const wrong = await run("curl", [`smtp://127.0.0.1:${h.ports.submission}/curl.test`, "--ssl-reqd", "--user", "bob@example.org:nope", ...common]);
    assert.equal(wrong.code, 67, wrong.stderr);
    const received = (await mailboxMessages(h, h.accounts.carol)).map((m) => m.text.replace(/\r\n\t/g, " "));
    assert.equal(received.length, 2);
    assert.match(received[0]!, /Received: from curl\.test \(\[127\.0\.0\.1\]\) by mx\.example\.org \(using TLSv1\.[23] with cipher \S+\) with ESMTPSA /);
    assert.match(received[1]!, /with ESMTPSA /);
  } finally {
    await h.stop();
  }
});

test("smtplib SMTPUTF8: a UTF-8 local part (alias) and an IDN domain are delivered; without SMTPUTF8 they get 553 5.6.7", async () => {
  const h = await startSmtpHarness();
  try {
    const { store } = h.temp;
    await store.addAlias("jörg@example.org", ["alice@example.org"]);
    // Domains are kept as A-labels (RFC 5890): bücher.example.
    await store.addDomain("xn--bcher-kva.example");
    await store.addAlias("info@xn--bcher-kva.example", ["bob@example.org"]);
    const script = `
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="py.test")
s.ehlo()
print("smtputf8", s.has_extn("smtputf8"))
msg = "From: Jürgen <jürgen@exämple.test>\\r\\nTo: jörg@example.org, info@bücher.example\\r\\nSubject: Grüße\\r\\n\\r\\nHallo, schöne Grüße\\r\\n".encode("utf-8")
refused = s.sendmail("jürgen@exämple.test", ["jörg@example.org", "info@bücher.example"], msg, mail_options=["SMTPUTF8", "BODY=8BITMIME"])
print("refused", refused)
# Without SMTPUTF8 on MAIL: smtplib would refuse to encode, so switch its encoding by hand.
s.mail("plain@ext.example")
s.command_encoding = "utf-8"
print("rcpt", *s.rcpt("jörg@example.org"))
s.rset()
s.command_encoding = "utf-8"
print("mail", *s.mail("jürgen@exämple.test"))
s.quit()
`;
    const result = await python(script, h.ports.mx);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /smtputf8 True/);
    assert.match(result.stdout, /refused \{\}/);
    assert.match(result.stdout, /rcpt 553 b'5\.6\.7 /);
    assert.match(result.stdout, /mail 553 b'5\.6\.7 /);
    const [toAlice] = await mailboxMessages(h, h.accounts.alice);
    const [toBob] = await mailboxMessages(h, h.accounts.bob);
    assert.ok(toAlice && toBob);
    assert.equal(toAlice.blobId, toBob.blobId);
    const unfolded = toAlice.text.replace(/\r\n\t/g, " ");
    assert.match(unfolded, /^Return-Path: <jürgen@exämple\.test>\r\n/);
    // RFC 6531 §4.3: the with-protocol says UTF8SMTP.
    assert.match(unfolded, /with UTF8SMTP id \S+ for <jörg@example\.org>/);
    assert.match(toAlice.text, /Subject: Grüße\r\n\r\nHallo, schöne Grüße\r\n$/);
    assert.match(toBob.text.replace(/\r\n\t/g, " "), /for <info@bücher\.example>/);
  } finally {
    await h.stop();
  }
});

test("smtplib drives BDAT (RFC 3030) through putcmd/send/getreply: two chunks, then LAST", async () => {
  const h = await startSmtpHarness();
  try {
    const script = `
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="py.test")
s.ehlo()
print("chunking", s.has_extn("chunking"))
s.mail("x@ext.example")
s.rcpt("carol@example.org")
chunks = [b"Subject: chunked\\r\\n\\r\\nfirst part, ", b"second part\\r\\n.\\r\\nnot an end\\r\\n"]
for i, chunk in enumerate(chunks):
    s.putcmd("BDAT", "%d%s" % (len(chunk), " LAST" if i == len(chunks) - 1 else ""))
    s.send(chunk)
    print("bdat", *s.getreply())
s.quit()
`;
    const result = await python(script, h.ports.mx);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /chunking True/);
    assert.match(result.stdout, /bdat 250 b'2\.0\.0 32 octets received'\nbdat 250 b'2\.0\.0 Ok: queued as /);
    const [message] = await mailboxMessages(h, h.accounts.carol);
    // BDAT bodies are not dot-stuffed: the "." line is content (RFC 3030 §2).
    assert.ok(message!.text.endsWith("Subject: chunked\r\n\r\nfirst part, second part\r\n.\r\nnot an end\r\n"), JSON.stringify(message!.text));
  } finally {
    await h.stop();
  }
});
