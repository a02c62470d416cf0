// Conformance of MailStore.getSortFacts, which SORT and THREAD (RFC 5256) stand on: per existing
// message its INTERNALDATE, size and stored envelope, and with `withReferences` the References
// value (message-ids compared folded, so only the ids are checked); UIDs that no longer exist
// are absent; without References asked for, none is read.
import assert from "node:assert/strict";
import { test } from "node:test";
import { using, type OpenBackend } from "./fixture.js";

const REPLY = Buffer.from(
  [
    "Subject: Re: =?UTF-8?Q?caf=C3=A9?=",
    "From: Zoë <zoe@example.org>",
    "Date: 2 Mar 2025 10:00:00 +0000",
    "Message-ID: <reply@example.org>",
    "In-Reply-To: <root@example.org>",
    "References: <Root@example.org>",
    "  <mid@example.org>",
    "",
    "body",
    "",
  ].join("\r\n"),
);

export function sortFactsContract(open: OpenBackend): void {
  test("getSortFacts: envelope, size, INTERNALDATE and References of the existing messages", using(open, async (fx) => {
    const { id } = await fx.account();
    const inbox = await fx.mailbox(id);
    const plain = await fx.append(inbox.id);
    const gone = await fx.append(inbox.id);
    const reply = await fx.mail.deliver({ source: REPLY, internalDate: new Date("2025-03-04T00:00:00Z"), targets: [{ mailboxId: inbox.id }] });
    const replyUid = reply.copies[0]!.uid;
    await fx.mail.removeMessages(inbox.id, [gone.uid]);
    const facts = await fx.mail.getSortFacts(inbox.id, [plain.uid, gone.uid, replyUid], true);
    assert.deepEqual(facts.map((f) => f.uid), [plain.uid, replyUid]);
    const [first, second] = facts;
    assert.equal(first!.references, null);
    assert.equal(second!.envelope.subject, "Re: =?UTF-8?Q?caf=C3=A9?=");
    assert.equal(second!.envelope.messageId, "<reply@example.org>");
    assert.equal(second!.envelope.inReplyTo, "<root@example.org>");
    assert.equal(second!.envelope.date, "2 Mar 2025 10:00:00 +0000");
    assert.equal(second!.envelope.from?.[0]?.mailbox, "zoe");
    assert.equal(second!.internalDate.toISOString(), "2025-03-04T00:00:00.000Z");
    const [summary] = await fx.mail.getSummaries(inbox.id, [replyUid]);
    assert.equal(second!.size, summary!.size);
    assert.deepEqual((second!.references ?? "").toLowerCase().match(/<[^>]+>/g), ["<root@example.org>", "<mid@example.org>"]);
    const light = await fx.mail.getSortFacts(inbox.id, [replyUid], false);
    assert.equal(light[0]!.references, null);
    assert.deepEqual(await fx.mail.getSortFacts(inbox.id, [], true), []);
  }));
}
