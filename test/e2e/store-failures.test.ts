// Honest answers when the store fails, with real clients (python smtplib, imaplib, poplib):
// - a full disk (ENOSPC from the blob layer) is SMTP 452 4.3.1 (RFC 3463 X.3.1 "mail system
//   full") and IMAP APPEND NO [UNAVAILABLE] (the server's disk, not the user's quota: RFC 5530);
// - a message whose file is gone is IMAP NO [SERVERBUG] for that FETCH, the other messages still
//   answered and the connection kept open (it used to drop), and POP3 -ERR [SYS/PERM] (RFC 3206);
// each with a log line.
import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { createMemoryLogger } from "../../src/observability/log.js";
import type { Account } from "../../src/store/index.js";
import { SimulatedDisk } from "../../src/store/blobs/simulated-disk.js";
import { deliverTo, startImapHarness, type ImapHarness } from "../harness/imap-harness.js";
import { startPop3Harness } from "../harness/pop3-harness.js";
import { python } from "../harness/smtp-clients.js";
import { startSmtpHarness } from "../harness/smtp-harness.js";

test("SMTP: a full disk answers 452 4.3.1, and mail is accepted again once there is room", async () => {
  const disk = new SimulatedDisk("/");
  const log = createMemoryLogger();
  const harness = await startSmtpHarness({ store: { blobs: { files: disk } }, log });
  try {
    const script = `
import smtplib, sys
def send(subject):
    s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=15)
    s.ehlo('client.test')
    try:
        s.sendmail('sender@example.net', ['alice@example.org'], ('Subject: %s\\r\\n\\r\\nbody\\r\\n' % subject).encode())
        print('ACCEPTED')
    except smtplib.SMTPDataError as e:
        print(e.smtp_code, e.smtp_error.decode())
    s.quit()
send('full')
`;
    disk.failWrites = "ENOSPC";
    const full = await python(script, harness.ports.mx);
    assert.match(full.stdout, /^452 4\.3\.1 /m, full.stdout + full.stderr);
    disk.failWrites = "EDQUOT";
    const quota = await python(script, harness.ports.mx);
    assert.match(quota.stdout, /^452 4\.3\.1 /m, quota.stdout + quota.stderr);
    disk.failWrites = null;
    const fine = await python(script, harness.ports.mx);
    assert.match(fine.stdout, /^ACCEPTED$/m, fine.stdout + fine.stderr);
    assert.equal((await harness.temp.store.listMessages((await harness.temp.store.getMailbox(harness.accounts.alice.id, "INBOX"))!.id)).length, 1);
    assert.ok(log.records.some((r) => r.event === "smtp.delivery_failed" && r.level === "error"), "the failure is logged");
  } finally {
    await harness.stop();
  }
});

test("IMAP: APPEND on a full disk answers NO [UNAVAILABLE] and the session goes on", async () => {
  const disk = new SimulatedDisk("/");
  const harness = await startImapHarness({ store: { blobs: { files: disk } } });
  try {
    disk.failWrites = "ENOSPC";
    const result = await python(
      `
import imaplib, sys
m = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
m.login('alice@example.org', 'alice-pass')
print('FULL', m.append('INBOX', None, None, b'Subject: full\\r\\n\\r\\nbody\\r\\n'))
print('NOOP', m.noop()[0])
m.logout()
`,
      harness.ports.imap,
    );
    assert.match(result.stdout, /FULL \('NO', \[b'\[UNAVAILABLE\] [^\]]*full/, result.stdout + result.stderr);
    assert.match(result.stdout, /NOOP OK/);
  } finally {
    await harness.stop();
  }
});

async function removeBlobFile(harness: { temp: { dataDir: string } }, blobId: string): Promise<void> {
  await rm(join(harness.temp.dataDir, "blobs", blobId.slice(0, 2), blobId));
}

async function lose(harness: ImapHarness, account: Account, uid: number): Promise<void> {
  const inbox = (await harness.temp.store.getMailbox(account.id, "INBOX"))!;
  const [message] = await harness.temp.store.getMessages(inbox.id, [uid as never]);
  await removeBlobFile(harness, message!.blobId);
}

test("IMAP: FETCH of a message whose file is gone is NO [SERVERBUG] for it; the others are sent and the connection stays", async () => {
  const log = createMemoryLogger();
  const harness = await startImapHarness({ store: { log } });
  try {
    const alice = harness.accounts.alice;
    await deliverTo(harness, alice, "small and lost");
    const inbox = (await harness.temp.store.getMailbox(alice.id, "INBOX"))!;
    // A large one too: those are streamed, where a missing file used to end the connection.
    const big = `Subject: big and lost\r\n\r\n${"x".repeat(100)}\r\n`.repeat(1000);
    await harness.temp.store.deliver({ source: Buffer.from(big), targets: [{ mailboxId: inbox.id }] });
    await deliverTo(harness, alice, "kept");
    await lose(harness, alice, 1);
    await lose(harness, alice, 2);
    const result = await python(
      `
import imaplib, sys
m = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
m.login('alice@example.org', 'alice-pass')
m.select('INBOX')
typ, data = m.fetch('1:3', '(BODY.PEEK[])')
print('ALL', typ, data)
print('UNTAGGED', [d for d in m.untagged_responses.get('FETCH', []) if isinstance(d, tuple) and b'kept' in d[1]] != [])
typ, data = m.fetch('2', '(BODY.PEEK[])')
print('BIG', typ, data)
typ, data = m.fetch('3', '(BODY.PEEK[])')
print('KEPT', typ, b'Hello, kept' in data[0][1])
print('NOOP', m.noop()[0])
m.logout()
`,
      harness.ports.imap,
    );
    assert.match(result.stdout, /^ALL NO \[b'\[SERVERBUG\] message 1:2 cannot be read/m, result.stdout + result.stderr);
    assert.match(result.stdout, /^UNTAGGED True$/m, "message 3 was answered in the failing FETCH");
    assert.match(result.stdout, /^BIG NO \[b'\[SERVERBUG\]/m);
    assert.match(result.stdout, /^KEPT OK True$/m);
    assert.match(result.stdout, /^NOOP OK$/m);
    assert.ok(log.records.some((r) => r.event === "store.blob_damaged" && r.level === "error"), "the store logs the damage");
  } finally {
    await harness.stop();
  }
});

test("POP3: RETR of a message whose file is gone is -ERR [SYS/PERM]; the session goes on", async () => {
  const log = createMemoryLogger();
  const harness = await startPop3Harness({ allowPlaintextAuth: true, store: { log } });
  try {
    const alice = harness.accounts.alice;
    await harness.deliver(alice, "Subject: lost\r\n\r\nlost\r\n");
    await harness.deliver(alice, "Subject: kept\r\n\r\nkept body\r\n");
    const [lost] = await harness.temp.store.getMessages((await harness.inbox(alice)).id, [1 as never]);
    await removeBlobFile(harness, lost!.blobId);
    const result = await python(
      `
import poplib, sys
p = poplib.POP3('127.0.0.1', int(sys.argv[1]))
p.user('alice@example.org')
p.pass_('alice-pass')
print('STAT', p.stat())
try:
    p.retr(1)
    print('LOST OK')
except poplib.error_proto as e:
    print('LOST', e)
print('KEPT', b'kept body' in b'\\n'.join(p.retr(2)[1]))
p.quit()
`,
      harness.ports.pop3,
    );
    assert.match(result.stdout, /^LOST b'-ERR \[SYS\/PERM\] /m, result.stdout + result.stderr);
    assert.match(result.stdout, /^KEPT True$/m);
    assert.ok(log.records.some((r) => r.event === "store.blob_damaged"), "the store logs the damage");
  } finally {
    await harness.stop();
  }
});
