// The evaluator on a real SQLite store: every key, NOT/OR nesting, UTF-8 strings, encoded-words,
// date edges, sequence sets vs UIDs, `$`, MODSEQ; that cheap keys spare the expensive reads; and a
// property: staged evaluation decides exactly as evaluation with every fact loaded up front.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import fc from "fast-check";
import { readMessageFixture } from "../../../test/harness/fixtures.js";
import { openTempStore, type TempStore } from "../../../test/harness/temp-store.js";
import { parseHeaderBlock } from "../../mail/header-fields.js";
import type { Mailbox, MailStore, Uid } from "../../store/index.js";
import { ArgumentReader } from "../protocol/arguments.js";
import { mapSearchSets, parseSearchProgram } from "../protocol/search-key.js";
import { SelectedMailbox } from "../session/selected-mailbox.js";
import { compileKey, evaluate, headerSearchText, type MessageFacts, type ResolvedSearchKey } from "./evaluate.js";
import { searchMailbox } from "./search-mailbox.js";

const crlf = (lines: string[]): Buffer => Buffer.from(lines.join("\r\n"), "utf8");

const MESSAGE_A = crlf([
  "From: Alice Example <alice@example.com>",
  "To: bob@example.org",
  "Cc: Carol <carol@example.net>",
  "Subject: Quarterly report",
  "Date: Mon, 03 Mar 2025 23:30:00 -0800",
  "Content-Type: text/plain; charset=utf-8",
  "",
  "The numbers are up. Straße",
  "",
]);
const MESSAGE_C = crlf([
  'From: "Bob" <bob@example.org>',
  "To: alice@example.com",
  "Bcc: secret@example.com",
  "Subject: =?ISO-8859-1?Q?Caf=E9?= menu",
  "X-Custom: =?UTF-8?B?R3LDvMOfZQ==?= world",
  "Date: 5 Mar 25 10:00 GMT",
  "Content-Type: text/html; charset=utf-8",
  "",
  "<p>Today's <b>special</b>: STRASSE soup</p>",
  "",
]);
const MESSAGE_D = crlf([
  "From: nobody@example.com",
  "To: friends: a@example.com, b@example.com;",
  "",
  ...Array.from({ length: 80 }, (_, i) => `line ${i} of a long body${i === 40 ? " with the needle in it" : ""}`),
  "",
]);

type Name = "a" | "b" | "c" | "d" | "e";
const NAMES: Name[] = ["a", "b", "c", "d", "e"];

let temp: TempStore;
let store: MailStore;
let inbox: Mailbox;
let view: SelectedMailbox;
const uidOf = new Map<Name, Uid>();
const nameOf = new Map<number, Name>();

before(async () => {
  temp = await openTempStore("mailroom-search-");
  store = temp.store;
  await temp.store.addDomain("example.com");
  const account = await temp.store.createAccount({ address: "u@example.com", passwordHash: "x" });
  inbox = (await store.getMailbox(account.id, "INBOX"))!;
  // A removed first message, so that sequence numbers and UIDs differ by one.
  const gone = await store.append(inbox.id, Buffer.from("Subject: gone\r\n\r\n.\r\n"));
  await store.removeMessages(inbox.id, [gone.uid]);
  const put = async (name: Name, source: Buffer, internalDate: string, flags: string[], prefix?: string): Promise<void> => {
    const result = await store.deliver({
      source,
      internalDate: new Date(internalDate),
      targets: [{ mailboxId: inbox.id, flags, ...(prefix === undefined ? {} : { prefix: Buffer.from(prefix) }) }],
    });
    const uid = result.copies[0]!.uid;
    uidOf.set(name, uid);
    nameOf.set(uid, name);
  };
  await put("a", MESSAGE_A, "2025-03-04T07:30:00Z", ["\\Seen", "\\Answered"], "Received: from relay.example.net by mx.example.com\r\n");
  await put("b", await readMessageFixture(import.meta.url, "utf8-headers.eml"), "2025-03-05T12:00:00Z", ["\\Flagged", "$Important"]);
  await put("c", MESSAGE_C, "2025-03-06T00:00:00Z", ["\\Deleted", "\\Draft"]);
  await put("d", MESSAGE_D, "2025-03-06T23:59:59Z", []);
  await put("e", await readMessageFixture(import.meta.url, "mixed-attachment.eml"), "2025-03-07T00:00:00Z", []);
  view = await SelectedMailbox.open(store, (await store.getMailboxById(inbox.id))!, false);
});

after(() => temp.cleanup());

function resolveKey(line: string): ResolvedSearchKey {
  const program = parseSearchProgram(ArgumentReader.ofLine(line));
  return mapSearchSets(program.key, (set, kind) => new Set(view.resolve(set, kind === "uid").map((m) => m.uid)));
}

async function search(line: string, on: MailStore = store): Promise<string> {
  const found = await searchMailbox(on, { mailboxId: inbox.id, uids: view.allUids() }, resolveKey(line));
  return found.map((m) => nameOf.get(m.uid) ?? `uid${m.uid}`).join(",");
}

test("flag, keyword and \\Recent keys", async () => {
  const cases: [string, string][] = [
    ["ALL", "a,b,c,d,e"],
    ["SEEN", "a"],
    ["UNSEEN", "b,c,d,e"],
    ["ANSWERED", "a"],
    ["UNANSWERED", "b,c,d,e"],
    ["FLAGGED", "b"],
    ["UNFLAGGED", "a,c,d,e"],
    ["DELETED", "c"],
    ["UNDELETED", "a,b,d,e"],
    ["DRAFT", "c"],
    ["UNDRAFT", "a,b,d,e"],
    ["KEYWORD $important", "b"],
    ["UNKEYWORD $IMPORTANT", "a,c,d,e"],
    ["KEYWORD $Nothing", ""],
    ["RECENT", ""],
    ["NEW", ""],
    ["OLD", "a,b,c,d,e"],
  ];
  for (const [line, expected] of cases) assert.equal(await search(line), expected, line);
});

test("address and subject keys match decoded names and addresses, case-insensitively", async () => {
  const cases: [string, string][] = [
    ["FROM alice", "a"],
    ["FROM \"ALICE EXAMPLE\"", "a"],
    ["FROM bob", "c,e"],
    ["FROM \"josé\"", "b"],
    ["FROM \"GARCÍA\"", "b"],
    ["FROM \"jose@example.es\"", "b"],
    ["TO alice", "c,e"],
    ["TO \"ZOË\"", "b"],
    ["TO \"zoe@example.de\"", "b"],
    ["TO b@example.com", "d"],
    ["TO friends", "d"],
    ["CC carol", "a"],
    ["CC alice", ""],
    ["BCC secret@example.com", "c"],
    ["SUBJECT \"grüße\"", "b"],
    ["SUBJECT \"GRÜSSE AUS\"", "b"],
    ["SUBJECT \"café menu\"", "c"],
    ["SUBJECT report", "a,e"],
    ["SUBJECT \"\"", "a,b,c,e"],
  ];
  for (const [line, expected] of cases) assert.equal(await search(line), expected, line);
});

test("HEADER reads the top-level header, trace prefix included; BODY skips the header, TEXT does not", async () => {
  const cases: [string, string][] = [
    ["HEADER X-Custom \"grüße world\"", "c"],
    ["HEADER x-custom \"\"", "c"],
    ["HEADER X-Missing \"\"", ""],
    ["HEADER Received relay.example.net", "a"],
    ["HEADER Subject \"aus münchen\"", "b"],
    ["HEADER Content-Type html", "c"],
    ["BODY \"straße\"", "a,c"],
    ["BODY numbers", "a,e"],
    ["BODY quarterly", "e"],
    ["TEXT quarterly", "a,e"],
    ["BODY special", "c"],
    ["BODY \"<b>\"", ""],
    ["BODY \"schöne grüße\"", "b"],
    ["BODY revenue", "e"],
    ["BODY needle", "d"],
    ["BODY alice", ""],
    ["TEXT \"alice@example.com\"", "a,c"],
    ["TEXT \"München\"", "b"],
    ["BODY \"\"", "a,b,c,d,e"],
  ];
  for (const [line, expected] of cases) assert.equal(await search(line), expected, line);
});

test("dates: INTERNALDATE by UTC day, Date: header by the day as written, two-digit years", async () => {
  const cases: [string, string][] = [
    ["BEFORE 4-Mar-2025", ""],
    ["ON 4-Mar-2025", "a"],
    ["BEFORE 5-Mar-2025", "a"],
    ["ON 6-Mar-2025", "c,d"],
    ["SINCE 6-Mar-2025", "c,d,e"],
    ["SINCE 8-Mar-2025", ""],
    // Sent Mon 3 Mar 23:30 -0800, which is 4 Mar in UTC: the written day counts.
    ["SENTON 3-Mar-2025", "a"],
    ["SENTON 4-Mar-2025", ""],
    ["SENTON 5-Mar-2025", "b,c"],
    ["SENTBEFORE 4-Mar-2025", "a"],
    ["SENTSINCE 4-Mar-2025", "b,c"],
    ["NOT SENTBEFORE 4-Mar-2025", "b,c,d,e"],
  ];
  for (const [line, expected] of cases) assert.equal(await search(line), expected, line);
});

test("sizes, sequence numbers, UIDs, $ and MODSEQ", async () => {
  const summaries = await store.listMessages(inbox.id);
  const sizeOf = (name: Name): number => summaries.find((s) => s.uid === uidOf.get(name))!.size;
  assert.equal(await search(`LARGER ${sizeOf("d") - 1}`), "d");
  assert.equal(await search(`LARGER ${sizeOf("d")}`), "", "LARGER is strict");
  assert.equal(await search(`SMALLER ${sizeOf("d")}`), "a,b,c,e");
  assert.equal(await search(`SMALLER ${Math.min(...summaries.map((s) => s.size))}`), "", "SMALLER is strict");
  assert.equal(await search("2:3"), "b,c", "sequence numbers are not UIDs");
  assert.equal(await search("*"), "e");
  assert.equal(await search("1,5"), "a,e");
  assert.equal(await search(`UID ${uidOf.get("b")}:${uidOf.get("c")}`), "b,c");
  assert.equal(await search("UID 1"), "", "UID 1 was removed");
  assert.equal(await search("UID *"), "e");
  view.setLastSearchResult([uidOf.get("c")!, uidOf.get("e")!]);
  assert.equal(await search("$"), "c,e");
  assert.equal(await search("UID $ SUBJECT report"), "e");
  view.setLastSearchResult([]);
  assert.equal(await search("$"), "");
  const bumped = await store.updateFlags(inbox.id, [uidOf.get("d")!], { mode: "add", flags: ["$Later"] });
  const modseq = bumped.updated[0]!.modseq;
  assert.equal(await search(`MODSEQ ${modseq}`), "d");
  assert.equal(await search(`MODSEQ "/flags/\\\\seen" all ${modseq}`), "d", "the entry name is accepted and ignored");
  assert.equal(await search("MODSEQ 0"), "a,b,c,d,e");
  await store.updateFlags(inbox.id, [uidOf.get("d")!], { mode: "remove", flags: ["$Later"] });
});

test("NOT, OR and lists nest, mixing cheap and expensive keys", async () => {
  const cases: [string, string][] = [
    ["OR SEEN FLAGGED", "a,b"],
    ["NOT (OR SEEN FLAGGED)", "c,d,e"],
    ["NOT NOT SEEN", "a"],
    ["OR (FROM bob BODY special) SUBJECT \"grüße\"", "b,c"],
    ["OR NOT SEEN BODY numbers", "a,b,c,d,e"],
    ["DELETED BODY soup", "c"],
    ["UNDELETED BODY soup", ""],
    ["NOT (TEXT example UNSEEN)", "a"],
    ["OR OR SEEN DELETED OR FLAGGED HEADER X-Nope \"\"", "a,b,c"],
    ["(SINCE 5-Mar-2025 (NOT DELETED (OR TO alice TO zoe)))", "b,e"],
  ];
  for (const [line, expected] of cases) assert.equal(await search(line), expected, line);
});

/** A store that counts the expensive calls and the UIDs they were asked about. */
function countingStore(inner: MailStore): { store: MailStore; calls: { getMessages: number[]; getSearchText: number[]; openMessage: number[] } } {
  const calls = { getMessages: [] as number[], getSearchText: [] as number[], openMessage: [] as number[] };
  const proxy = new Proxy(inner, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (property === "getMessages") calls.getMessages.push(...(args[1] as number[]));
        // The texts asked for, one by one or in a batch.
        if (property === "getSearchText") calls.getSearchText.push(args[1] as number);
        if (property === "getSearchTexts") calls.getSearchText.push(...(args[1] as number[]));
        if (property === "openMessage") calls.openMessage.push((args[0] as { uid: number }).uid);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: proxy, calls };
}

test("cheap keys decide first; TEXT/BODY and header keys come from the indexes: no text, header or envelope read for them", async () => {
  const names = (uids: number[]): string => uids.map((u) => nameOf.get(u)).join(",");
  let probe = countingStore(store);
  assert.equal(await search("SEEN BODY numbers", probe.store), "a");
  assert.deepEqual(probe.calls, { getMessages: [], getSearchText: [], openMessage: [] });

  probe = countingStore(store);
  assert.equal(await search("OR UNSEEN TEXT numbers", probe.store), "a,b,c,d,e");
  assert.deepEqual(probe.calls.getSearchText, []);

  probe = countingStore(store);
  assert.equal(await search("OR FROM bob TEXT numbers", probe.store), "a,c,e");
  assert.deepEqual(probe.calls, { getMessages: [], getSearchText: [], openMessage: [] }, "FROM from the header index, not the envelope");

  probe = countingStore(store);
  assert.equal(await search('OR SUBJECT "grüße" HEADER X-Nope ""', probe.store), "b");
  assert.equal(await search('TO alice CC "" BCC ""', probe.store), "");
  assert.equal(await search("HEADER RECEIVED relay.EXAMPLE", probe.store), "a", "the trace prefix is header too");
  assert.equal(await search('HEADER x-custom "grüsse w"', probe.store), "c", "decoded and folded");
  assert.deepEqual(probe.calls, { getMessages: [], getSearchText: [], openMessage: [] }, "no header read from a file");

  probe = countingStore(store);
  assert.equal(await search("BODY alice", probe.store), "", "the header's text is not body text");
  assert.equal(await search("TEXT alice", probe.store), "a,c,e");
  assert.equal(await search("BODY st", probe.store), "a,c", "a 2-character string: the paged scan");
  assert.deepEqual(probe.calls, { getMessages: [], getSearchText: [], openMessage: [] });
  probe = countingStore(store);
  assert.equal(await search("BODY nowhere-at-all", probe.store), "");
  assert.deepEqual([probe.calls.getMessages, probe.calls.openMessage], [[], []]);

  probe = countingStore(store);
  assert.equal(await search("ALL", probe.store), "a,b,c,d,e");
  assert.deepEqual(probe.calls, { getMessages: [], getSearchText: [], openMessage: [] });

  probe = countingStore(store);
  assert.equal(await search("DELETED FROM bob", probe.store), "c");
  assert.deepEqual(probe.calls.getMessages, []);
  probe = countingStore(store);
  assert.equal(await search("DELETED SENTSINCE 1-Jan-2000", probe.store), "c");
  assert.equal(names(probe.calls.getMessages), "c", "SENT* still reads the envelope, of undecided messages only");
});

test("a message expunged in the store but still in the view matches nothing and breaks nothing", async () => {
  const extra = await store.append(inbox.id, Buffer.from("Subject: soon gone\r\n\r\nbody\r\n"));
  const local = await SelectedMailbox.open(store, (await store.getMailboxById(inbox.id))!, false);
  await store.removeMessages(inbox.id, [extra.uid]);
  const key = mapSearchSets(parseSearchProgram(ArgumentReader.ofLine("OR ALL BODY body")).key, (set, kind) => new Set(local.resolve(set, kind === "uid").map((m) => m.uid)));
  const found = await searchMailbox(store, { mailboxId: inbox.id, uids: local.allUids() }, key);
  assert.deepEqual(found.map((m) => nameOf.get(m.uid)), NAMES);
});

test("property: staged evaluation equals evaluation with every fact loaded", async () => {
  const facts = new Map<number, MessageFacts>();
  for (const summary of await store.listMessages(inbox.id)) {
    const [stored] = await store.getMessages(inbox.id, [summary.uid]);
    const chunks: Buffer[] = [];
    for await (const chunk of store.openMessage(stored!, { start: 0, end: stored!.structure.headerEnd })) chunks.push(chunk as Buffer);
    const header = Buffer.concat(chunks);
    facts.set(summary.uid, {
      uid: summary.uid,
      summary,
      recent: false,
      stored: stored!,
      header: { fields: parseHeaderBlock(header), searchTextPrefix: headerSearchText(parseHeaderBlock(header.subarray(stored!.prefixLength))) },
      searchText: (await store.getSearchText(inbox.id, summary.uid))!,
    });
  }
  const leaves = [
    "SEEN", "DELETED", "FLAGGED", "KEYWORD $Important", "LARGER 400", "2:4", "UID *", "ON 6-Mar-2025", "MODSEQ 3",
    "FROM bob", "TO alice", "SUBJECT report", "SENTON 5-Mar-2025", "HEADER X-Custom world", "HEADER Received \"\"",
    "BODY numbers", "BODY special", "TEXT example", "TEXT needle",
  ];
  const keyText: fc.Memo<string> = fc.memo((n) =>
    n <= 1
      ? fc.constantFrom(...leaves)
      : fc.oneof(
          fc.constantFrom(...leaves),
          keyText(n - 1).map((k) => `NOT ${k}`),
          fc.tuple(keyText(n - 1), keyText(n - 1)).map(([l, r]) => `OR ${l} ${r}`),
          fc.array(keyText(n - 1), { minLength: 1, maxLength: 3 }).map((ks) => `(${ks.join(" ")})`),
        ),
  );
  await fc.assert(
    fc.asyncProperty(keyText(4), async (line) => {
      const key = resolveKey(line);
      const compiled = compileKey(key);
      const expected = [...facts.values()].filter((f) => evaluate(compiled, f) === true).map((f) => f.uid);
      const staged = (await searchMailbox(store, { mailboxId: inbox.id, uids: view.allUids() }, key)).map((m) => m.uid);
      assert.deepEqual(staged, expected, line);
    }),
    { numRuns: 150 },
  );
});
