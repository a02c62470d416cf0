import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { openTempStore, type TempStore } from "../../../test/harness/temp-store.js";
import type { Mailbox, Uid } from "../../store/index.js";
import { encodeValue } from "../protocol/response.js";
import type { ImapValue } from "../protocol/response-value.js";
import { parseSequenceSet } from "../protocol/sequence-set.js";
import { SelectedMailbox, type SeqNum } from "./selected-mailbox.js";

const text = (responses: ImapValue[][]) => responses.map((r) => r.map((v) => encodeValue(v).toString()).join(" "));
const plain = { allowExpunge: true, condstore: false, qresync: false };

describe("SelectedMailbox", () => {
  let temp: TempStore;
  let mailbox: Mailbox;
  let uids: Uid[];
  before(async () => {
    temp = await openTempStore();
    await temp.store.addDomain("example.org");
    const account = await temp.store.createAccount({ address: "u@example.org", passwordHash: "x" });
    mailbox = (await temp.store.getMailbox(account.id, "INBOX"))!;
    uids = [];
    for (let i = 0; i < 5; i++) uids.push((await temp.store.append(mailbox.id, Buffer.from(`Subject: ${i}\r\n\r\nx\r\n`))).uid);
  });
  after(async () => temp.cleanup());

  it("maps sequence numbers and UIDs, resolves sets, and refuses numbers past the end", async () => {
    const selected = await SelectedMailbox.open(temp.store, mailbox, false);
    assert.equal(selected.toUid(3 as SeqNum), uids[2]);
    assert.equal(selected.toSeq(uids[4]!), 5);
    assert.deepEqual(selected.resolve(parseSequenceSet("2,4:*"), false).map((m) => m.seq), [2, 4, 5]);
    assert.deepEqual(selected.resolve(parseSequenceSet(`${uids[4]}:4294967295`), true).map((m) => m.uid), [uids[4]]);
    assert.throws(() => selected.resolve(parseSequenceSet("6"), false), /invalid message sequence number/);
    selected.setLastSearchResult([uids[3]!, uids[1]!]);
    assert.deepEqual(selected.resolve({ kind: "saved" }, false).map((m) => m.seq), [2, 4]);
  });

  it("holds EXPUNGE back when not allowed, then sends new EXISTS, expunges and flag changes in a consistent order", async () => {
    const selected = await SelectedMailbox.open(temp.store, mailbox, false);
    await temp.store.updateFlags(mailbox.id, [uids[0]!], { mode: "add", flags: ["\\Seen"] });
    await temp.store.removeMessages(mailbox.id, [uids[1]!]);
    const added = await temp.store.append(mailbox.id, Buffer.from("Subject: new\r\n\r\nx\r\n"));
    selected.markDirty();
    const held = text(await selected.sync(temp.store, { ...plain, allowExpunge: false, condstore: true }));
    assert.equal(held[0], "6 EXISTS", "the expunged message keeps its number, so the new one is the sixth");
    assert.match(held[1]!, new RegExp(`^1 FETCH \\(UID ${uids[0]} FLAGS \\(\\\\Seen\\) MODSEQ \\(\\d+\\)\\)$`));
    assert.equal(selected.isExpunged(uids[1]!), true);
    assert.deepEqual(text(await selected.sync(temp.store, plain)), ["2 EXPUNGE"]);
    assert.equal(selected.messageCount, 5);
    assert.equal(selected.toSeq(added.uid), 5);
  });

  it("reports several expunges highest first, or as one VANISHED under QRESYNC", async () => {
    const a = await SelectedMailbox.open(temp.store, mailbox, false);
    const b = await SelectedMailbox.open(temp.store, mailbox, false);
    const all = a.allUids();
    await temp.store.removeMessages(mailbox.id, [all[0]!, all[2]!]);
    a.markDirty();
    b.markDirty();
    assert.deepEqual(text(await a.sync(temp.store, plain)), ["3 EXPUNGE", "1 EXPUNGE"]);
    assert.deepEqual(text(await b.sync(temp.store, { ...plain, qresync: true })), [`VANISHED ${all[0]},${all[2]}`]);
  });

  it("does not repeat flags the session reported itself", async () => {
    const selected = await SelectedMailbox.open(temp.store, mailbox, false);
    const uid = selected.allUids()[0]!;
    const result = await temp.store.updateFlags(mailbox.id, [uid], { mode: "add", flags: ["\\Flagged"] });
    for (const u of result.updated) selected.noteFlags(u.uid, u.flags, u.modseq);
    selected.markDirty();
    assert.deepEqual(text(await selected.sync(temp.store, plain)), []);
  });
});
