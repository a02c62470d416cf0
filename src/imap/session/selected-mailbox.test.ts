import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { openTempStore, type TempStore } from "../../../test/harness/temp-store.js";
import type { Account, Flag, Mailbox, Uid } from "../../store/index.js";
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

  it("resolveList names the same messages as resolve, as typed arrays", async () => {
    const selected = await SelectedMailbox.open(temp.store, mailbox, false);
    const last = selected.lastUid;
    for (const [text, byUid] of [["1:*", false], ["2,4:*", false], ["3", false], [`1:${last}`, true], [`2:3,${last}:4294967295`, true], ["99999", true]] as const) {
      const expected = selected.resolve(parseSequenceSet(text), byUid);
      const list = selected.resolveList(parseSequenceSet(text), byUid);
      assert.equal(list.length, expected.length, text);
      assert.deepEqual(list.slice(0, list.length), expected, text);
      assert.deepEqual(list.slice(1, 3), expected.slice(1, 3), `${text}: a page`);
    }
    assert.throws(() => selected.resolveList(parseSequenceSet("99"), false), /invalid message sequence number/);
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
  it("agrees with the store whether SELECT maps few flag lists or scans many (over 64 distinct lists)", async () => {
    const { mailbox: own, allUids } = await ownMailbox("ManyLists", 70);
    for (let i = 0; i < allUids.length; i++) {
      const flags = [...(i % 2 === 0 ? ["\\Seen"] : []), ...(i % 3 === 0 ? ["\\Flagged"] : []), ...(i < 66 ? [`$K${i}`] : [])];
      if (flags.length > 0) await temp.store.updateFlags(own.id, [allUids[i]!], { mode: "add", flags });
    }
    const selected = await SelectedMailbox.open(temp.store, (await temp.store.getMailboxById(own.id))!, false);
    const stored = await temp.store.getSummaries(own.id, allUids);
    let fromSession = 0;
    for (const summary of stored) {
      const flags = selected.sessionFlags(summary.uid);
      if (flags === null) continue;
      fromSession++;
      assert.deepEqual([...flags].sort(), [...summary.flags].sort(), `UID ${summary.uid}`);
    }
    assert.ok(fromSession >= 62, `${fromSession} answered from the session`);
  });

  it("answers flags with keywords from the session and follows STORE, other sessions' changes and expunges", async () => {
    const { mailbox: own, allUids } = await ownMailbox("KeywordLists", 4);
    await temp.store.updateFlags(own.id, [allUids[0]!, allUids[2]!], { mode: "add", flags: ["$Work"] });
    await temp.store.updateFlags(own.id, [allUids[2]!], { mode: "add", flags: ["\\Seen"] });
    const selected = await SelectedMailbox.open(temp.store, (await temp.store.getMailboxById(own.id))!, false);
    const stored = async (uid: Uid) => (await temp.store.getSummaries(own.id, [uid]))[0]!.flags;
    for (const uid of allUids) assert.deepEqual(selected.sessionFlags(uid), await stored(uid), `UID ${uid} as stored`);
    // This session's own STORE, noted; then another session's change, seen by sync.
    const own1 = await temp.store.updateFlags(own.id, [allUids[1]!], { mode: "add", flags: ["$Home"] });
    selected.noteFlags(allUids[1]!, own1.updated[0]!.flags, own1.updated[0]!.modseq);
    assert.deepEqual(selected.sessionFlags(allUids[1]!), await stored(allUids[1]!));
    await temp.store.updateFlags(own.id, [allUids[3]!], { mode: "add", flags: ["$Later"] });
    await temp.store.updateFlags(own.id, [allUids[0]!], { mode: "remove", flags: ["$Work"] });
    await temp.store.removeMessages(own.id, [allUids[1]!]);
    selected.markDirty();
    await selected.sync(temp.store, plain);
    assert.deepEqual(selected.sessionFlags(allUids[3]!), ["$Later"]);
    assert.deepEqual(selected.sessionFlags(allUids[0]!), [], "no keyword left: from the flag bits");
    assert.deepEqual(selected.sessionFlags(allUids[2]!), await stored(allUids[2]!), "its list moved with it when the message before it went");
    assert.equal(selected.sessionFlags(allUids[1]!), null, "expunged");
  });

});

describe("SelectedMailbox of a big mailbox (issue 13: at most 16 bytes per selected message)", () => {
  const COUNT = 100_000;
  const mailbox = { id: 1, highestModSeq: 5, uidValidity: 1 } as unknown as Mailbox;
  // Only what open() and sync() call, so the test measures the session, not a store.
  const bigStore = (uids: Uint32Array, changes: { expunged: Uid[] } = { expunged: [] }) =>
    ({
      selectionIndex: async () => ({ mailbox, uids, flagBits: new Uint8Array(uids.length).fill(8), firstUnseen: null, keywords: [] }),
      claimRecent: async () => ({ first: COUNT + 1, next: COUNT + 1 }),
      changesSince: async () => ({ expunged: changes.expunged, changed: [], highestModSeq: 6 }),
    }) as unknown as import("../../store/index.js").MailStore;

  it("holds 100,000 selected messages in two sessions within 16 bytes each", async () => {
    const uids = Uint32Array.from({ length: COUNT }, (_, i) => i * 2 + 1);
    const store = bigStore(uids);
    const { setFlagsFromString } = await import("node:v8");
    const { runInNewContext } = await import("node:vm");
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    gc();
    const before = process.memoryUsage();
    const sessions = [await SelectedMailbox.open(store, mailbox, false, "claim"), await SelectedMailbox.open(store, mailbox, true, "peek")];
    gc();
    const grown = process.memoryUsage();
    const bytes = grown.heapUsed - before.heapUsed + (grown.arrayBuffers - before.arrayBuffers);
    assert.ok(bytes / (2 * COUNT) <= 16, `${(bytes / (2 * COUNT)).toFixed(2)} bytes per selected message`);
    assert.equal(sessions[0]!.messageCount, COUNT);
    assert.equal(sessions[1]!.toUid(COUNT as SeqNum), COUNT * 2 - 1);
    assert.deepEqual(sessions[1]!.sessionFlags((COUNT * 2 - 1) as Uid), ["\\Seen"]);
  });

  it("holds keyword flag lists as small ids within 16 bytes per message", async () => {
    const uids = Uint32Array.from({ length: COUNT }, (_, i) => i + 1);
    const flagBits = new Uint8Array(COUNT).map((_, i) => (i % 2 === 0 ? 8 | 32 : 8));
    const keywordSets = {
      lists: [["\\Seen", "$Work"], ["\\Seen", "$Home", "$Work"]] as Flag[][],
      ids: new Uint8Array(COUNT).map((_, i) => (i % 4 === 0 ? 1 : i % 4 === 2 ? 2 : 0)),
    };
    const store = { ...bigStore(uids), selectionIndex: async () => ({ mailbox, uids, flagBits, firstUnseen: null, keywords: ["$Work", "$Home"], keywordSets }) } as unknown as import("../../store/index.js").MailStore;
    const { setFlagsFromString } = await import("node:v8");
    const { runInNewContext } = await import("node:vm");
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    gc();
    const before = process.memoryUsage();
    const selected = await SelectedMailbox.open(store, mailbox, false);
    gc();
    const grown = process.memoryUsage();
    const bytes = grown.heapUsed - before.heapUsed + (grown.arrayBuffers - before.arrayBuffers);
    assert.ok(bytes / COUNT <= 16, `${(bytes / COUNT).toFixed(2)} bytes per selected message`);
    assert.deepEqual(selected.sessionFlags(1 as Uid), ["\\Seen", "$Work"]);
    assert.deepEqual(selected.sessionFlags(2 as Uid), ["\\Seen"]);
    assert.deepEqual(selected.sessionFlags(3 as Uid), ["\\Seen", "$Home", "$Work"]);
  });

  it("releases many expunges in one pass, keeping numbering and the saved search right", async () => {
    const uids = Uint32Array.from({ length: COUNT }, (_, i) => i + 1);
    const doomed = Array.from({ length: COUNT / 2 }, (_, i) => (i * 2 + 2) as Uid);
    const selected = await SelectedMailbox.open(bigStore(uids, { expunged: doomed }), mailbox, false);
    selected.setLastSearchResult([1, 2, 3, 4] as Uid[]);
    selected.markDirty();
    const started = Date.now();
    const responses = await selected.sync(bigStore(uids, { expunged: doomed }), plain);
    assert.ok(Date.now() - started < 2000, "no copy of the array per expunged message");
    assert.equal(responses.length, COUNT / 2);
    assert.equal(text(responses)[0], `${COUNT} EXPUNGE`, "highest first");
    assert.equal(selected.messageCount, COUNT / 2);
    assert.equal(selected.toUid(2 as SeqNum), 3);
    assert.deepEqual(selected.sessionFlags(3 as Uid), ["\\Seen"], "flag bits move with their UIDs");
    assert.equal(selected.toSeq(4 as Uid), null);
    assert.deepEqual(selected.lastSearchResult, [1, 3]);
    assert.deepEqual(selected.resolve(parseSequenceSet("1:3"), true).map((m) => m.seq), [1, 2]);
  });
});
