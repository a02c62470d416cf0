// POP3 is unaffected by IMAP ACLs (RFC 4314): bob, who may read alice's shared INBOX over IMAP,
// still sees only his own INBOX over POP3 (RFC 1939 maildrop), and alice's \Seen and messages are
// untouched by his POP3 session.
import assert from "node:assert/strict";
import { test } from "node:test";
import { RawPop3Client, startPop3Harness } from "../harness/pop3-harness.js";

test("a mailbox shared with bob is not in bob's POP3 maildrop", async () => {
  const h = await startPop3Harness({ allowPlaintextAuth: true });
  try {
    const { alice, bob } = h.accounts;
    await h.deliver(alice, "Subject: alice 1\r\n\r\none\r\n");
    await h.deliver(alice, "Subject: alice 2\r\n\r\ntwo\r\n");
    await h.deliver(bob, "Subject: bob\r\n\r\nthree\r\n");
    const aliceInbox = await h.inbox(alice);
    await h.temp.store.setAcl(aliceInbox.id, "bob@example.org", "lrswipkxtea");
    await h.temp.store.setAcl(aliceInbox.id, "anyone", "lr");
    const client = await RawPop3Client.open(h.ports.pop3);
    assert.match((await client.line())!, /^\+OK /);
    assert.match((await client.command("USER bob@example.org"))!, /^\+OK/);
    assert.match((await client.command("PASS bob-pass"))!, /^\+OK maildrop has 1 message/);
    assert.match((await client.command("STAT"))!, /^\+OK 1 /);
    assert.match((await client.command("DELE 1"))!, /^\+OK/);
    assert.match((await client.command("QUIT"))!, /^\+OK/);
    assert.equal((await h.temp.store.listMessages(aliceInbox.id)).length, 2, "alice's messages stay");
    assert.equal((await h.temp.store.listMessages((await h.inbox(bob)).id)).length, 0, "bob's own went");
    assert.deepEqual(await h.temp.store.getPrivateSeen(aliceInbox.id, bob.id), []);
  } finally {
    await h.stop();
  }
});
