import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { openTempStore, type TempStore } from "../../../test/harness/temp-store.js";
import type { Account, Mailbox, Uid } from "../../store/index.js";
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
  let account: Account;
  before(async () => {
    temp = await openTempStore();
    await temp.store.addDomain("example.org");
    account = await temp.store.createAccount({ address: "u@example.org", passwordHash: "x" });
    mailbox = (await temp.store.getMailbox(account.id, "INBOX"))!;
    uids = [];
    for (let i = 0; i < 5; i++) uids.push((await temp.store.append(mailbox.id, Buffer.from(`Subject: ${i}\r\n\r\nx\r\n`))).uid);
  });
  after(async () => temp.cleanup());

  /** A mailbox of its own with `count` messages, for a test that must not see the others' changes. */
  async function ownMailbox(name: string, count: number): Promise<{ mailbox: Mailbox; allUids: Uid[] }> {
    const created = await temp.store.createMailbox(account.id, name);
    const allUids: Uid[] = [];
    for (let i = 0; i < count; i++) allUids.push((await temp.store.append(created.id, Buffer.from(`Subject: ${i}\r\n\r\nx\r\n`))).uid);
    return { mailbox: (await temp.store.getMailboxById(created.id))!, allUids };
  }

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

  it("lists keywords in use, and announces a new one (FLAGS, PERMANENTFLAGS) once, before what shows it", async () => {
    const own = await ownMailbox("Keywords", 3);
    const uid = own.allUids[2]!;
    await temp.store.updateFlags(own.mailbox.id, [uid], { mode: "add", flags: ["$Seen1"] });
    const selected = await SelectedMailbox.open(temp.store, own.mailbox, false);
    const readOnly = await SelectedMailbox.open(temp.store, own.mailbox, true);
    assert.deepEqual(selected.applicableFlags, ["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft", "$Seen1"]);
    assert.deepEqual(selected.permanentFlags.slice(-2), ["$Seen1", "\\*"]);
    assert.deepEqual(readOnly.permanentFlags, []);
    assert.deepEqual(selected.flagsUpdate(), [], "SELECT itself told the keywords in use");
    await temp.store.updateFlags(own.mailbox.id, [uid], { mode: "add", flags: ["Later"] });
    for (const s of [selected, readOnly]) s.markDirty();
    const [flags, permanent, fetch] = text(await selected.sync(temp.store, plain));
    assert.equal(flags, "FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Seen1 Later)");
    assert.equal(permanent, "OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Seen1 Later \\*)] flags permitted");
    assert.match(fetch!, /^3 FETCH \(UID \d+ FLAGS \(\$Seen1 Later\)\)$/);
    assert.match(text(await readOnly.sync(temp.store, plain)).join("\n"), /^FLAGS \([^)]*Later\)\n3 FETCH/, "read-only: FLAGS only");
    // Case-insensitive (RFC 9051 §2.3.2): "later" is the keyword already told.
    selected.reportedFlags(uid, ["later"], false);
    assert.deepEqual(selected.flagsUpdate(), []);
    selected.reportedFlags(uid, ["Fresh"], false);
    assert.equal(text(selected.flagsUpdate())[0], "FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Seen1 Later Fresh)");
  });

  it("names no message for sequence numbers past the end when asked to (SEARCH), BAD otherwise", async () => {
    const selected = await SelectedMailbox.open(temp.store, (await ownMailbox("Numbers", 5)).mailbox, false);
    assert.deepEqual(selected.resolve(parseSequenceSet("4:100"), false, { pastEnd: "match-none" }).map((m) => m.seq), [4, 5]);
    assert.deepEqual(selected.resolve(parseSequenceSet("1000"), false, { pastEnd: "match-none" }), []);
    assert.throws(() => selected.resolve(parseSequenceSet("4:100"), false), /invalid message sequence number/);
  });
});
