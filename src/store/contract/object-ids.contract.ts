// Conformance of MailStore.getMessageAttributes (store/object-ids.ts): RFC 8474 EMAILID and
// THREADID, RFC 8514 save date and the RFC 8970 preview kept at delivery. EMAILID and THREADID
// are kept by COPY and MOVE, the save date is the time of the copy; replies join their parent's
// thread whichever arrives first; another account never shares a thread.
import assert from "node:assert/strict";
import { test } from "node:test";
import { isStoreError } from "../errors.js";
import { OBJECT_ID } from "../object-ids.js";
import { using, type OpenBackend } from "./fixture.js";

function mail(id: string, headers: string[], body = "Hello there,\r\n\r\n  see   you\ttomorrow.\r\n"): Buffer {
  return Buffer.from([`Subject: ${id}`, `Message-ID: <${id}@example.org>`, ...headers, "", body].join("\r\n"));
}

export function objectIdContract(open: OpenBackend): void {
  test("getMessageAttributes: EMAILID, THREADID, save date and preview; COPY and MOVE keep the ids", using(open, async (fx) => {
    const { id } = await fx.account();
    const inbox = await fx.mailbox(id);
    const archive = await fx.mailbox(id, "Archive");
    const before = Date.now();
    const root = (await fx.mail.deliver({ source: mail("root", []), internalDate: new Date("2020-01-01T00:00:00Z"), targets: [{ mailboxId: inbox.id }] })).copies[0]!;
    const reply = (await fx.mail.deliver({ source: mail("reply", ["In-Reply-To: <root@example.org>"]), targets: [{ mailboxId: inbox.id }] })).copies[0]!;
    const other = await fx.append(inbox.id);
    const gone = await fx.append(inbox.id);
    await fx.mail.removeMessages(inbox.id, [gone.uid]);
    const attrs = await fx.mail.getMessageAttributes(inbox.id, [root.uid, reply.uid, other.uid, gone.uid]);
    assert.deepEqual(attrs.map((a) => a.uid), [root.uid, reply.uid, other.uid]);
    const [a, b, c] = attrs;
    for (const x of attrs) {
      assert.match(x.emailId, OBJECT_ID);
      assert.match(x.threadId ?? "", OBJECT_ID);
    }
    assert.equal(new Set(attrs.map((x) => x.emailId)).size, 3, "distinct EMAILIDs");
    assert.equal(a!.threadId, b!.threadId, "the reply joins its parent's thread");
    assert.notEqual(a!.threadId, c!.threadId);
    // RFC 8514: the save date is when it was stored, not the INTERNALDATE given.
    assert.ok(a!.saveDate.getTime() >= before - 1000 && a!.saveDate.getTime() <= Date.now() + 1000, `save date ${a!.saveDate.toISOString()}`);
    assert.equal(a!.preview, "Hello there, see you tomorrow.");

    const copied = await fx.mail.copyMessages(inbox.id, [root.uid], archive.id);
    const [copy] = await fx.mail.getMessageAttributes(archive.id, [copied.pairs[0]![1]]);
    assert.equal(copy!.emailId, a!.emailId, "COPY keeps EMAILID");
    assert.equal(copy!.threadId, a!.threadId, "COPY keeps THREADID");
    assert.ok(copy!.saveDate.getTime() >= a!.saveDate.getTime());
    const moved = await fx.mail.moveMessages(inbox.id, [reply.uid], archive.id);
    const [move] = await fx.mail.getMessageAttributes(archive.id, [moved.pairs[0]![1]]);
    assert.equal(move!.emailId, b!.emailId, "MOVE keeps EMAILID");
    assert.equal(move!.threadId, b!.threadId);
    assert.deepEqual(await fx.mail.getMessageAttributes(inbox.id, []), []);
  }));

  test("THREADID: a reply delivered before its parent, References chains, and accounts apart", using(open, async (fx) => {
    const alice = await fx.account("alice");
    const bob = await fx.account("bob");
    const inbox = await fx.mailbox(alice.id);
    const bobInbox = await fx.mailbox(bob.id);
    const child = (await fx.mail.deliver({ source: mail("child", ["References: <parent@example.org>"]), targets: [{ mailboxId: inbox.id }] })).copies[0]!;
    // One delivery to both accounts: each gets its own thread.
    const parent = (await fx.mail.deliver({ source: mail("parent", []), targets: [{ mailboxId: inbox.id }, { mailboxId: bobInbox.id }] })).copies;
    const grandchild = (await fx.mail.deliver({ source: mail("grandchild", ["References: <unknown@example.org> <child@example.org>"]), targets: [{ mailboxId: inbox.id }] })).copies[0]!;
    const [c, p, g] = await fx.mail.getMessageAttributes(inbox.id, [child.uid, parent[0]!.uid, grandchild.uid]);
    assert.equal(p!.threadId, c!.threadId, "the parent joins the thread its reply started");
    assert.equal(g!.threadId, c!.threadId);
    const [bobs] = await fx.mail.getMessageAttributes(bobInbox.id, [parent[1]!.uid]);
    assert.notEqual(bobs!.threadId, p!.threadId, "threads are per account");
    assert.notEqual(bobs!.emailId, p!.emailId);
  }));

  test("preview: empty without a text part, capped at 200 characters, HTML tags removed", using(open, async (fx) => {
    const { id } = await fx.account();
    const inbox = await fx.mailbox(id);
    const long = (await fx.mail.deliver({ source: mail("long", [], `${"word ".repeat(100)}\r\n`), targets: [{ mailboxId: inbox.id }] })).copies[0]!;
    const html = (await fx.mail.deliver({ source: mail("html", ["Content-Type: text/html; charset=utf-8"], "<p>Caf\u00e9 <b>bold</b></p>\r\n"), targets: [{ mailboxId: inbox.id }] })).copies[0]!;
    const binary = (await fx.mail.deliver({ source: mail("bin", ["Content-Type: application/octet-stream", "Content-Transfer-Encoding: base64"], "AAECAw==\r\n"), targets: [{ mailboxId: inbox.id }] })).copies[0]!;
    const [l, h, bin] = await fx.mail.getMessageAttributes(inbox.id, [long.uid, html.uid, binary.uid]);
    assert.equal(Array.from(l!.preview!).length, 199, "200 characters, the cut's trailing space trimmed");
    assert.equal(h!.preview, "Café bold");
    assert.equal(bin!.preview, "");
  }));

  test("replaceMessage (RFC 8508): the old message out and the new one in, atomically", using(open, async (fx) => {
    const { id } = await fx.account();
    const drafts = await fx.mailbox(id, "Drafts");
    const sent = await fx.mailbox(id, "Sent");
    const first = await fx.append(drafts.id, ["\\Draft"]);
    const second = await fx.append(drafts.id);
    const staged = await fx.mail.stageMessage(fx.message("version two"));
    const { copy, expunged } = await fx.mail.replaceMessage(drafts.id, first.uid, drafts.id, { source: staged, flags: ["\\Draft", "\\Seen"] });
    assert.deepEqual(expunged.expunged, [first.uid]);
    assert.ok(copy.uid > second.uid);
    assert.deepEqual((await fx.mail.listMessages(drafts.id)).map((m) => m.uid), [second.uid, copy.uid]);
    const [summary] = await fx.mail.getSummaries(drafts.id, [copy.uid]);
    assert.deepEqual([...summary!.flags].sort(), ["\\Draft", "\\Seen"]);
    // Into another mailbox.
    const other = await fx.mail.replaceMessage(drafts.id, second.uid, sent.id, { source: await fx.mail.stageMessage(fx.message("sent version")) });
    assert.equal(other.copy.mailboxId, sent.id);
    assert.deepEqual((await fx.mail.listMessages(drafts.id)).map((m) => m.uid), [copy.uid]);
    assert.equal((await fx.mail.listMessages(sent.id)).length, 1);
    // A message that is gone: nothing appended, nothing removed.
    await assert.rejects(
      fx.mail.replaceMessage(drafts.id, second.uid, drafts.id, { source: await fx.mail.stageMessage(fx.message("late")) }),
      (error: unknown) => isStoreError(error, "NONEXISTENT"),
    );
    assert.deepEqual((await fx.mail.listMessages(drafts.id)).map((m) => m.uid), [copy.uid]);
    const status = await fx.mail.mailboxStatus(drafts.id);
    assert.equal(status.messages, 1);
  }));
}
