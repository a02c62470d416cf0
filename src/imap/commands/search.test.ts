// SEARCH / UID SEARCH through the command contract, on a real SQLite store and the session's real
// SelectedMailbox, with a small fake CommandContext that records untagged responses.
import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import { openTempStore, type TempStore } from "../../../test/harness/temp-store.js";
import type { Mailbox, Uid } from "../../store/index.js";
import { ArgumentReader } from "../protocol/arguments.js";
import { ImapParseError } from "../protocol/parse-error.js";
import type { ImapValue } from "../protocol/response-value.js";
import { SelectedMailbox } from "../session/selected-mailbox.js";
import type { CommandContext, ImapExtension } from "./command.js";
import { searchCommand } from "./search.js";
import { esearchCommand, resolveInList } from "./esearch.js";
import { parseSequenceSet } from "../protocol/sequence-set.js";

let temp: TempStore;
let inbox: Mailbox;
let selected: SelectedMailbox;
const uids: Uid[] = [];

before(async () => {
  temp = await openTempStore("mailroom-search-cmd-");
  await temp.store.addDomain("example.com");
  const account = await temp.store.createAccount({ address: "u@example.com", passwordHash: "x" });
  inbox = (await temp.store.getMailbox(account.id, "INBOX"))!;
  const gone = await temp.store.append(inbox.id, Buffer.from("Subject: gone\r\n\r\n.\r\n"));
  await temp.store.removeMessages(inbox.id, [gone.uid]);
  // seq 1..4 = uid 2..5; 1 and 3 are flagged.
  for (const [subject, flags] of [["one", ["\\Flagged"]], ["two", []], ["three", ["\\Flagged", "\\Seen"]], ["four", []]] as const) {
    uids.push((await temp.store.append(inbox.id, Buffer.from(`Subject: ${subject}\r\n\r\nbody ${subject}\r\n`), { flags: [...flags] })).uid);
  }
});

after(() => temp.cleanup());

beforeEach(async () => {
  selected = await SelectedMailbox.open(temp.store, (await temp.store.getMailboxById(inbox.id))!, false);
});

function render(value: ImapValue): string {
  switch (value.kind) {
    case "atom":
      return value.value;
    case "number":
      return String(value.value);
    case "string":
      return JSON.stringify(value.value.toString());
    case "list":
      return `(${value.items.map(render).join(" ")})`;
    case "nil":
      return "NIL";
    case "literal":
      return `{${value.size}}`;
    case "encoded":
      return value.text;
  }
}

interface Run {
  lines: string[];
  enabled: ImapExtension[];
}

async function run(line: string, options: { byUid?: boolean; rev2?: boolean; enabled?: ImapExtension[] } = {}): Promise<Run> {
  const byUid = options.byUid ?? false;
  const rev2 = options.rev2 ?? false;
  const enabled = new Set<ImapExtension>(options.enabled ?? (rev2 ? ["IMAP4REV2"] : []));
  const newlyEnabled: ImapExtension[] = [];
  const lines: string[] = [];
  const args = searchCommand.parse(ArgumentReader.ofLine(line), { name: "SEARCH", byUid, enabled, rev2 });
  const ctx = {
    tag: "t1",
    name: "SEARCH",
    byUid,
    store: temp.store,
    selected,
    enabled,
    rev2,
    requireSelected: () => selected,
    untagged: async (...values: ImapValue[]) => {
      lines.push(values.map(render).join(" "));
    },
    session: { enable: (e: ImapExtension) => newlyEnabled.push(e) },
  } as unknown as CommandContext;
  await searchCommand.run(ctx, args);
  return { lines, enabled: newlyEnabled };
}

const saved = (): number[] => [...selected.lastSearchResult];

test("the contract: SEARCH and UID SEARCH, selected state, holds EXPUNGE, advertises ESEARCH and SEARCHRES", () => {
  assert.deepEqual(searchCommand.names, ["SEARCH"]);
  assert.equal(searchCommand.uid, true);
  assert.deepEqual(searchCommand.states, ["selected"]);
  assert.equal(searchCommand.holdsExpunges, true);
  assert.ok(searchCommand.capabilities?.includes("ESEARCH") && searchCommand.capabilities.includes("SEARCHRES"));
});

test("IMAP4rev1: * SEARCH with sequence numbers, or UIDs for UID SEARCH", async () => {
  assert.deepEqual((await run("FLAGGED")).lines, ["SEARCH 1 3"]);
  assert.deepEqual((await run("FLAGGED", { byUid: true })).lines, [`SEARCH ${uids[0]} ${uids[2]}`]);
  assert.deepEqual((await run("SUBJECT nothing")).lines, ["SEARCH"]);
  assert.deepEqual((await run("CHARSET UTF-8 BODY \"two\"")).lines, ["SEARCH 2"]);
});

test("IMAP4rev2: ESEARCH with ALL as a sequence set, UID marker, nothing for no match", async () => {
  assert.deepEqual((await run("UNSEEN", { rev2: true })).lines, ['ESEARCH (TAG "t1") ALL 1:2,4']);
  assert.deepEqual((await run("UNSEEN", { rev2: true, byUid: true })).lines, [`ESEARCH (TAG "t1") UID ALL ${uids[0]}:${uids[1]},${uids[3]}`]);
  assert.deepEqual((await run("SUBJECT nothing", { rev2: true })).lines, ['ESEARCH (TAG "t1")']);
});

test("RETURN options (RFC 4731): MIN MAX COUNT ALL; COUNT 0 alone when nothing matches", async () => {
  assert.deepEqual((await run("RETURN (MIN MAX COUNT) UNSEEN")).lines, ['ESEARCH (TAG "t1") MIN 1 MAX 4 COUNT 3']);
  assert.deepEqual((await run("RETURN (ALL) 2:4", { byUid: true })).lines, [`ESEARCH (TAG "t1") UID ALL ${uids[1]}:${uids[3]}`]);
  assert.deepEqual((await run("RETURN () FLAGGED")).lines, ['ESEARCH (TAG "t1") ALL 1,3']);
  assert.deepEqual((await run("RETURN (MIN MAX COUNT ALL) DELETED")).lines, ['ESEARCH (TAG "t1") COUNT 0']);
});

test("SAVE (RFC 5182): no response alone, `$` holds UIDs, MIN/MAX alone save just those", async () => {
  assert.deepEqual((await run("RETURN (SAVE) FLAGGED")).lines, []);
  assert.deepEqual(saved(), [uids[0], uids[2]]);
  assert.deepEqual((await run("$")).lines, ["SEARCH 1 3"]);
  assert.deepEqual((await run("UID $ SEEN", { byUid: true })).lines, [`SEARCH ${uids[2]}`]);
  // `$` in the criteria is the previous result, even when this search saves a new one.
  assert.deepEqual((await run("RETURN (SAVE COUNT) NOT $")).lines, ['ESEARCH (TAG "t1") COUNT 2']);
  assert.deepEqual(saved(), [uids[1], uids[3]]);
  assert.deepEqual((await run("RETURN (SAVE MAX) ALL")).lines, ['ESEARCH (TAG "t1") MAX 4']);
  assert.deepEqual(saved(), [uids[3]]);
  await run("RETURN (SAVE MIN MAX) ALL");
  assert.deepEqual(saved(), [uids[0], uids[3]]);
  await run("RETURN (SAVE MIN ALL) UNFLAGGED");
  assert.deepEqual(saved(), [uids[1], uids[3]], "with ALL the whole result is saved");
});

test("a sequence number past the last message matches nothing: OK and an empty result, not BAD (as Dovecot; imaptest esearch)", async () => {
  assert.deepEqual((await run("RETURN () 9")).lines, ['ESEARCH (TAG "t1")']);
  assert.deepEqual((await run("RETURN (MIN COUNT) 3:9")).lines, ['ESEARCH (TAG "t1") MIN 3 COUNT 2']);
  assert.deepEqual((await run("9")).lines, ["SEARCH"]);
  selected.setLastSearchResult([uids[0]!]);
  await run("RETURN (SAVE) 9");
  assert.deepEqual(saved(), [], "SAVE keeps the empty result");
});

test("a failed SEARCH with SAVE leaves `$` empty; without SAVE `$` is kept", async () => {
  selected.setLastSearchResult([uids[0]!]);
  await assert.rejects(run("RETURN (SAVE) CHARSET KOI8-R TEXT x"), (e: unknown) => e instanceof ImapParseError && e.status === "NO" && e.code === "BADCHARSET (UTF-8 US-ASCII)");
  assert.deepEqual(saved(), []);
  selected.setLastSearchResult([uids[0]!]);
  await assert.rejects(run("RETURN (SAVE) BOGUS"), (e: unknown) => e instanceof ImapParseError && e.status === "BAD");
  assert.deepEqual(saved(), []);
  selected.setLastSearchResult([uids[0]!]);
  assert.throws(() => searchCommand.parse(ArgumentReader.ofLine("BOGUS"), { name: "SEARCH", byUid: false, enabled: new Set(), rev2: false }), ImapParseError);
  await assert.rejects(run("CHARSET KOI8-R ALL"), ImapParseError);
  assert.deepEqual(saved(), [uids[0]]);
});

test("MODSEQ (RFC 7162 §3.1.5): enables CONDSTORE and reports the highest modseq of the result", async () => {
  const summaries = await temp.store.listMessages(inbox.id);
  const modseqOf = (i: number): number => summaries.find((s) => s.uid === uids[i])!.modseq;
  const highest = Math.max(...summaries.map((s) => s.modseq));
  const legacy = await run("MODSEQ 0");
  assert.deepEqual(legacy.lines, [`SEARCH 1 2 3 4 (MODSEQ ${highest})`]);
  assert.deepEqual(legacy.enabled, ["CONDSTORE"]);
  assert.deepEqual((await run("MODSEQ 0", { enabled: ["CONDSTORE"] })).enabled, [], "already enabled");
  assert.deepEqual((await run(`MODSEQ ${highest + 1}`)).lines, ["SEARCH"], "no MODSEQ for an empty result");
  assert.deepEqual((await run("RETURN (MIN) MODSEQ 0")).lines, [`ESEARCH (TAG "t1") MIN 1 MODSEQ ${modseqOf(0)}`]);
  assert.deepEqual((await run("RETURN (COUNT) FLAGGED MODSEQ 0")).lines, [`ESEARCH (TAG "t1") COUNT 2 MODSEQ ${Math.max(modseqOf(0), modseqOf(2))}`]);
  assert.deepEqual((await run("FLAGGED")).lines, ["SEARCH 1 3"], "no MODSEQ unless MODSEQ was searched");
});

test("the view decides numbering: a message the session was not told of is not found", async () => {
  const late = await temp.store.append(inbox.id, Buffer.from("Subject: late\r\n\r\nbody late\r\n"));
  try {
    assert.deepEqual((await run("SUBJECT late")).lines, ["SEARCH"]);
    assert.deepEqual((await run("ALL", { byUid: true })).lines, [`SEARCH ${uids.join(" ")}`]);
  } finally {
    await temp.store.removeMessages(inbox.id, [late.uid]);
  }
});

test("FUZZY and RELEVANCY (RFC 6203): trigram-overlap matches scored from the index, exact matches 100", async () => {
  assert.ok(searchCommand.capabilities?.includes("SEARCH=FUZZY"));
  // "threx": thr hre rex; "body three" holds thr and hre, 2 of 3: round(99 * 2 / 3) = 66.
  assert.deepEqual((await run('RETURN (ALL RELEVANCY) FUZZY BODY "threx"')).lines, ['ESEARCH (TAG "t1") ALL 3 RELEVANCY (66)']);
  assert.deepEqual((await run('RETURN (ALL) BODY "threx"')).lines, ['ESEARCH (TAG "t1")'], "without FUZZY nothing matches");
  assert.deepEqual((await run('RETURN (RELEVANCY ALL) OR FUZZY BODY "threx" SUBJECT one')).lines, ['ESEARCH (TAG "t1") ALL 1,3 RELEVANCY (100 66)']);
  assert.deepEqual((await run('RETURN (COUNT RELEVANCY) FUZZY (BODY "threx" FLAGGED)', { byUid: true })).lines, ['ESEARCH (TAG "t1") UID COUNT 1 RELEVANCY (66)']);
  assert.deepEqual((await run("RETURN (RELEVANCY) FLAGGED")).lines, ['ESEARCH (TAG "t1") RELEVANCY (100 100)'], "no FUZZY key: every match 100");
  assert.deepEqual((await run('FUZZY BODY "threx"')).lines, ["SEARCH 3"], "IMAP4rev1 SEARCH without RETURN");
  assert.deepEqual((await run('NOT FUZZY BODY "threx"')).lines, ["SEARCH 1 2 4"]);
  assert.throws(() => searchCommand.parse(ArgumentReader.ofLine("RETURN (RELEVANCE) ALL"), { name: "SEARCH", byUid: false, enabled: new Set(), rev2: false }), ImapParseError);
  assert.throws(() => searchCommand.parse(ArgumentReader.ofLine("FUZZY"), { name: "SEARCH", byUid: false, enabled: new Set(), rev2: false }), ImapParseError);
});

test("ESEARCH (RFC 7377): sources parsed, SAVE and $ only with the selected mailbox, scope options refused", () => {
  const parse = (line: string) => esearchCommand.parse(ArgumentReader.ofLine(line), { name: "ESEARCH", byUid: false, enabled: new Set(), rev2: false });
  assert.deepEqual(esearchCommand.states, ["authenticated", "selected"]);
  assert.deepEqual(esearchCommand.capabilities, ["MULTISEARCH"]);
  assert.deepEqual(parse('IN (personal subtree-one (Work "Old mail") mailboxes INBOX selected-delayed) RETURN (COUNT) TEXT x').sources, [
    { kind: "personal" },
    { kind: "subtree-one", names: ["Work", "Old mail"] },
    { kind: "mailboxes", names: ["INBOX"] },
    { kind: "selected" },
  ]);
  assert.equal(parse("TEXT x").sources, null);
  assert.ok(parse("IN (selected) RETURN (SAVE) ALL").search.ok);
  assert.ok(parse("IN (inboxes ()) ALL").search.ok, "an empty scope-options list");
  assert.throws(() => parse("IN (personal) RETURN (SAVE) ALL"), /SAVE/);
  assert.throws(() => parse("IN (subscribed) $"), /\$/);
  assert.throws(() => parse("IN (personal (DEPTH 1)) ALL"), ImapParseError);
  assert.throws(() => parse("IN (everything) ALL"), ImapParseError);
  assert.throws(() => parse("IN () ALL"), ImapParseError);
});

test("ESEARCH resolves sequence numbers and UID sets within each mailbox's UIDs", () => {
  const list = [3, 7, 9, 20] as Uid[];
  const seq = (text: string, byUid: boolean) => [...resolveInList(parseSequenceSet(text), byUid, list)];
  assert.deepEqual(seq("2:3", false), [7, 9]);
  assert.deepEqual(seq("*", false), [20]);
  assert.deepEqual(seq("4:9", false), [20], "past the last message: nothing more");
  assert.deepEqual(seq("5:10", true), [7, 9]);
  assert.deepEqual(seq("21:*", true), [20], "RFC 9051 §6.4.8: n:* includes the last UID");
  assert.deepEqual([...resolveInList(parseSequenceSet("1:*"), false, [])], []);
});
