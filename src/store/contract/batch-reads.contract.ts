// Conformance of the batch reads the protocols use on large mailboxes: they must answer exactly
// what the per-message reads answer (listMessages, getSearchText), for many UIDs in one call,
// leaving out UIDs that do not exist.
import assert from "node:assert/strict";
import { test } from "node:test";
import { asUid } from "../index.js";
import { sentOctets } from "../../mail/sent-octets.js";
import { readAll, using, type OpenBackend } from "./fixture.js";

export function batchReadContract(open: OpenBackend): void {
  test("getSummaries answers as listMessages does, for the UIDs asked that exist, ascending", using(open, async (fx) => {
    const { id } = await fx.account();
    const inbox = await fx.mailbox(id);
    for (let i = 0; i < 5; i++) await fx.append(inbox.id, i % 2 === 0 ? ["\\Seen"] : []);
    await fx.mail.removeMessages(inbox.id, [asUid(3)]);
    await fx.mail.updateFlags(inbox.id, [asUid(4)], { mode: "add", flags: ["$Work"] });
    const listed = await fx.mail.listMessages(inbox.id);
    const summaries = await fx.mail.getSummaries(inbox.id, [asUid(5), asUid(3), asUid(1), asUid(4), asUid(99)]);
    assert.deepEqual(summaries, listed.filter((m) => m.uid !== 2));
    assert.deepEqual(await fx.mail.getSummaries(inbox.id, []), []);
    assert.deepEqual(await fx.mail.getSummaryRange(inbox.id, asUid(2), asUid(5)), listed.filter((m) => m.uid >= 2));
    assert.deepEqual(await fx.mail.getSummaryRange(inbox.id, asUid(3), asUid(3)), []);
    assert.deepEqual(await fx.mail.getSummaryRange(inbox.id, asUid(5), asUid(1)), []);
  }));

  test("selectionIndex: every UID ascending, the first unseen, the keywords in first-seen order, one snapshot", using(open, async (fx) => {
    const { id } = await fx.account();
    const inbox = await fx.mailbox(id);
    const empty = await fx.mail.selectionIndex(inbox.id);
    assert.deepEqual([...empty.uids], []);
    assert.equal(empty.firstUnseen, null);
    assert.deepEqual(empty.keywords, []);
    for (const flags of [["\\Seen"], ["\\Seen", "$Work"], [], ["$later", "\\Flagged"], ["$WORK"]]) await fx.append(inbox.id, flags);
    await fx.mail.removeMessages(inbox.id, [asUid(3)]);
    const index = await fx.mail.selectionIndex(inbox.id);
    assert.ok(index.uids instanceof Uint32Array);
    assert.deepEqual([...index.uids], [1, 2, 4, 5]);
    // \Seen 8, \Flagged 2, keywords 32.
    assert.deepEqual([...index.flagBits], [8, 8 + 32, 2 + 32, 32]);
    assert.equal(index.firstUnseen, 4);
    assert.deepEqual(index.keywords, ["$Work", "$later"]);
    assert.deepEqual(index.mailbox, await fx.mail.getMailboxById(inbox.id));
    await fx.mail.updateFlags(inbox.id, [asUid(4), asUid(5)], { mode: "add", flags: ["\\Seen"] });
    assert.equal((await fx.mail.selectionIndex(inbox.id)).firstUnseen, null);
    await assert.rejects(fx.mail.selectionIndex(9999 as never), (err: Error & { code?: string }) => err.code === "NONEXISTENT");
  }));

  test("getSearchTexts answers as getSearchText does, leaving out UIDs that do not exist", using(open, async (fx) => {
    const { id } = await fx.account();
    const inbox = await fx.mailbox(id);
    for (const text of ["alpha words", "beta Grüße", "gamma"]) await fx.append(inbox.id, [], fx.message(text));
    await fx.mail.removeMessages(inbox.id, [asUid(2)]);
    const texts = await fx.mail.getSearchTexts(inbox.id, [asUid(3), asUid(2), asUid(1), asUid(42)]);
    assert.deepEqual([...texts.keys()].sort(), [1, 3]);
    for (const uid of [asUid(1), asUid(3)]) assert.equal(texts.get(uid), await fx.mail.getSearchText(inbox.id, uid));
    assert.match(texts.get(asUid(3)) ?? "", /gamma/);
    assert.equal((await fx.mail.getSearchTexts(inbox.id, [])).size, 0);
  }));

  test("getCrlfSizes counts each logical message as sent with CRLF line ends, leaving out UIDs that do not exist", using(open, async (fx) => {
    const { id } = await fx.account();
    const inbox = await fx.mailbox(id);
    const bodies = [
      "Subject: crlf\r\n\r\nline\r\n",
      "Subject: bare lf\n\nline one\nline two\n",
      "Subject: bare cr\r\rno end",
      "Subject: split\r\n\r\n" + "x".repeat(70_000) + "\r\n\n",
    ];
    for (const body of bodies) await fx.append(inbox.id, [], Buffer.from(body, "latin1"));
    const prefix = Buffer.from("Return-Path: <a@b.example>\r\nReceived: from x\r\n\tby y\r\n");
    await fx.mail.deliver({ source: Buffer.from("Subject: prefixed\n\nbody"), targets: [{ mailboxId: inbox.id, prefix }] });
    await fx.mail.removeMessages(inbox.id, [asUid(2)]);
    const uids = [asUid(5), asUid(2), asUid(1), asUid(3), asUid(4), asUid(77)];
    const sizes = await fx.mail.getCrlfSizes(inbox.id, uids);
    assert.deepEqual([...sizes.keys()].sort((a, b) => a - b), [1, 3, 4, 5]);
    for (const message of await fx.mail.getMessages(inbox.id, uids)) {
      assert.equal(sizes.get(message.uid), sentOctets(await readAll(fx.mail.openMessage(message))), `uid ${message.uid}`);
    }
    assert.equal((await fx.mail.getCrlfSizes(inbox.id, [])).size, 0);
  }));

  test("readMessages gives the bytes openMessage streams, for messages up to maxSize that exist", using(open, async (fx) => {
    const { id } = await fx.account();
    const inbox = await fx.mailbox(id);
    await fx.append(inbox.id, [], fx.message("small one"));
    await fx.append(inbox.id, [], Buffer.from("Subject: big\r\n\r\n" + "y".repeat(10_000) + "\r\n"));
    await fx.append(inbox.id, [], fx.message("removed"));
    const prefix = Buffer.from("Return-Path: <a@b.example>\r\n");
    await fx.mail.deliver({ source: fx.message("prefixed"), targets: [{ mailboxId: inbox.id, prefix }] });
    await fx.mail.removeMessages(inbox.id, [asUid(3)]);
    const uids = [asUid(4), asUid(3), asUid(2), asUid(1), asUid(9)];
    const read = await fx.mail.readMessages(inbox.id, uids, { maxSize: 4096 });
    assert.deepEqual([...read.keys()], [1, 4]);
    for (const message of await fx.mail.getMessages(inbox.id, [asUid(1), asUid(4)])) {
      const whole = read.get(message.uid)!;
      assert.equal(whole.length, message.size);
      assert.deepEqual(whole, await readAll(fx.mail.openMessage(message)));
    }
    assert.ok(read.get(asUid(4))!.subarray(0, prefix.length).equals(prefix));
    assert.deepEqual([...(await fx.mail.readMessages(inbox.id, uids, { maxSize: 1_000_000 })).keys()], [1, 2, 4]);
    assert.equal((await fx.mail.readMessages(inbox.id, [], { maxSize: 4096 })).size, 0);
  }));
}
