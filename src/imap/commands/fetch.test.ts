// FETCH / UID FETCH on a real SQLite store through the command contract: the command module is
// driven as dispatch drives it (parse, then run with a CommandContext), and every response is
// encoded by the real encoder into bytes, so literals are checked byte for byte.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { readMessageFixture } from "../../../test/harness/fixtures.js";
import { openTempStore, type TempStore } from "../../../test/harness/temp-store.js";
import { silentLogger } from "../../observability/log.js";
import type { Mailbox, MailStore, StoredMessage, Uid } from "../../store/index.js";
import { ArgumentReader } from "../protocol/arguments.js";
import { atom, list, num, type ImapValue } from "../protocol/response-value.js";
import { encodeValue, statusLine, writeResponse, writeResponses } from "../protocol/response.js";
import { renderBodyStructure } from "../protocol/body-structure.js";
import { renderEnvelope } from "../protocol/envelope.js";
import { SelectedMailbox } from "../session/selected-mailbox.js";
import type { CommandContext, ImapExtension, TaggedCompletion } from "./command.js";
import { ImapError } from "./command.js";
import { fetchCommand } from "./fetch.js";

let temp: TempStore;
let inbox: Mailbox;
const uids: Record<string, Uid> = {};
const PREFIX = "Return-Path: <bob@example.net>\r\n";

before(async () => {
  temp = await openTempStore("mailroom-fetch-");
  await temp.store.addDomain("example.com");
  const account = await temp.store.createAccount({ address: "u@example.com", passwordHash: "x" });
  inbox = (await temp.store.getMailbox(account.id, "INBOX"))!;
  // A removed first message, so that sequence numbers and UIDs differ.
  const gone = await temp.store.append(inbox.id, Buffer.from("Subject: gone\r\n\r\n.\r\n"));
  await temp.store.removeMessages(inbox.id, [gone.uid]);
  for (const [name, file] of [
    ["plain", "plain.eml"],
    ["mixed", "mixed-attachment.eml"],
    ["nested", "nested-rfc822.eml"],
  ] as const) {
    const result = await temp.store.deliver({
      source: await readMessageFixture(import.meta.url, file),
      internalDate: new Date("2025-03-04T10:00:00Z"),
      targets: [{ mailboxId: inbox.id, prefix: Buffer.from(PREFIX) }],
    });
    uids[name] = result.copies[0]!.uid;
  }
  uids.uu = (await temp.store.append(inbox.id, Buffer.from("Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 x\r\n"))).uid;
});

after(() => temp.cleanup());

interface Run {
  /** Everything written, as one latin1 string. */
  wire: string;
  /** What the tagged OK would say (ctx.complete), if the command set it. */
  completion: TaggedCompletion | null;
  enabled: Set<ImapExtension>;
  selected: SelectedMailbox;
}

/** Parses and runs one FETCH as dispatch does; the responses are encoded by the real encoder. */
async function fetch(line: string, options: { byUid?: boolean; readOnly?: boolean; enabled?: ImapExtension[]; selected?: SelectedMailbox; store?: MailStore } = {}): Promise<Run> {
  const byUid = options.byUid ?? false;
  const enabled = new Set<ImapExtension>(options.enabled ?? []);
  const mailbox = (await temp.store.getMailboxById(inbox.id))!;
  const selected = options.selected ?? (await SelectedMailbox.open(temp.store, mailbox, options.readOnly ?? false));
  const chunks: Buffer[] = [];
  let completion: TaggedCompletion | null = null;
  const sink = { write: async (bytes: Buffer) => void chunks.push(Buffer.from(bytes)) };
  const unused = (): never => {
    throw new Error("not used by FETCH");
  };
  const ctx = {
    tag: "a1",
    name: "FETCH",
    byUid,
    store: options.store ?? temp.store,
    account: null,
    selected,
    enabled,
    rev2: false,
    utf8: false,
    log: silentLogger,
    clock: () => new Date(),
    session: { enable: (extension: ImapExtension) => void enabled.add(extension) },
    requireAccount: unused,
    requireSelected: () => selected,
    untagged: (...values: ImapValue[]) => writeResponse(sink, "* ", values),
    untaggedStatus: async (status: string, code: string | null, text: string) => void chunks.push(statusLine("*", status as "OK", code, text)),
    fetchResponse: (seq: number, items: ImapValue[]) => writeResponse(sink, "* ", [num(seq), atom("FETCH"), list(items)]),
    fetchResponses: (responses: [number, ImapValue[]][]) => writeResponses(sink, "* ", responses.map(([seq, items]) => [num(seq), atom("FETCH"), list(items)])),
    fetchText: async (text: string) => void chunks.push(Buffer.from(text, "latin1")),
    continuation: unused,
    complete: (result: TaggedCompletion) => void (completion = result),
    encodeMailbox: unused,
  } as unknown as CommandContext;
  const args = fetchCommand.parse(ArgumentReader.ofLine(line), { name: "FETCH", byUid, enabled, rev2: false });
  await fetchCommand.run(ctx, args);
  return { wire: Buffer.concat(chunks).toString("latin1"), completion, enabled, selected };
}

const stored = async (uid: Uid): Promise<StoredMessage> => (await temp.store.getMessages(inbox.id, [uid]))[0]!;
const logical = async (name: string): Promise<string> => PREFIX + (await readMessageFixture(import.meta.url, `${name}.eml`)).toString("latin1");
const clearSeen = (uid: Uid) => temp.store.updateFlags(inbox.id, [uid], { mode: "remove", flags: ["\\Seen"] });

describe("FETCH responses", () => {
  it("writes metadata items in the order asked", async () => {
    const { wire } = await fetch("1 (UID RFC822.SIZE INTERNALDATE FLAGS)");
    const message = await stored(uids.plain!);
    assert.equal(wire, `* 1 FETCH (UID ${uids.plain} RFC822.SIZE ${message.size} INTERNALDATE " 4-Mar-2025 10:00:00 +0000" FLAGS ())\r\n`);
  });

  it("streams BODY.PEEK[] byte-exact, prefix included, without setting \\Seen", async () => {
    const expected = await logical("plain");
    const { wire } = await fetch("1 BODY.PEEK[]");
    assert.equal(wire, `* 1 FETCH (BODY[] {${Buffer.byteLength(expected, "latin1")}}\r\n${expected})\r\n`);
    assert.deepEqual((await stored(uids.plain!)).flags, []);
  });

  it("sets \\Seen for BODY[] and reports the new FLAGS in that response", async () => {
    await clearSeen(uids.nested!);
    const { wire, selected } = await fetch(`${uids.nested} (BODY[2.1])`, { byUid: true });
    assert.equal(wire, `* 3 FETCH (UID ${uids.nested} BODY[2.1] {6}\r\nPlan A FLAGS (\\Seen))\r\n`);
    assert.deepEqual((await stored(uids.nested!)).flags, ["\\Seen"]);
    selected.markDirty();
    const unsolicited = await selected.sync(temp.store, { allowExpunge: true, condstore: false, qresync: false });
    assert.deepEqual(unsolicited, [], "the session will not repeat the change");
    // Already seen: no FLAGS added the second time.
    assert.equal((await fetch(`${uids.nested} (BODY[2.1])`, { byUid: true })).wire, `* 3 FETCH (UID ${uids.nested} BODY[2.1] {6}\r\nPlan A)\r\n`);
  });

  it("sets \\Seen for RFC822.TEXT and BINARY, not for RFC822.HEADER, BINARY.PEEK or in a read-only mailbox", async () => {
    for (const [items, seen, readOnly] of [
      ["RFC822.HEADER", false, false],
      ["BINARY.PEEK[1]", false, false],
      ["BODY[TEXT]", false, true],
      ["RFC822.TEXT", true, false],
      ["BINARY[1]", true, false],
      ["RFC822", true, false],
    ] as const) {
      await clearSeen(uids.plain!);
      const { wire } = await fetch(`1 (${items})`, { readOnly });
      assert.equal((await stored(uids.plain!)).flags.includes("\\Seen"), seen, items);
      assert.equal(wire.endsWith(" FLAGS (\\Seen))\r\n"), seen, items);
    }
  });

  it("includes MODSEQ with the implicit \\Seen under CONDSTORE", async () => {
    await clearSeen(uids.plain!);
    const { wire } = await fetch("1 BODY[1]<0.2>", { enabled: ["CONDSTORE"] });
    const message = await stored(uids.plain!);
    assert.equal(wire, `* 1 FETCH (BODY[1]<0> {2}\r\nHi FLAGS (\\Seen) MODSEQ (${message.modseq}))\r\n`);
  });

  it("answers sections, header subsets and partials from the stored offsets", async () => {
    const { wire } = await fetch("2 (BODY.PEEK[HEADER.FIELDS (Subject)] BODY.PEEK[1]<4.5> BINARY.SIZE[2] BODY.PEEK[3.MIME])");
    assert.equal(
      wire,
      "* 2 FETCH (BODY[HEADER.FIELDS (Subject)] {19}\r\nSubject: Report\r\n\r\n BODY[1]<4> {5}\r\nattac BINARY.SIZE[2] 144 " +
        "BODY[3.MIME] {147}\r\nContent-Type: text/plain; charset=utf-8; name=numbers.txt\r\nContent-Transfer-Encoding: BASE64\r\nContent-Disposition: inline; filename=numbers.txt\r\n\r\n)\r\n",
    );
  });

  it("decodes BINARY[2] to the attachment's octets", async () => {
    const raw = (await readMessageFixture(import.meta.url, "mixed-attachment.eml")).toString("latin1");
    const pdf = Buffer.from(raw.split("Content-Language: en, fr\r\n\r\n")[1]!.split("\r\n--outer-boundary")[0]!, "base64");
    const { wire } = await fetch("2 BINARY.PEEK[2]");
    assert.equal(wire, `* 2 FETCH (BINARY[2] {${pdf.length}}\r\n${pdf.toString("latin1")})\r\n`);
  });

  it("answers NO [UNKNOWN-CTE] for an encoding it cannot decode (RFC 3516 §4.3)", async () => {
    await assert.rejects(fetch(`${uids.uu} BINARY.PEEK[1]`, { byUid: true }), (error: unknown) => error instanceof ImapError && error.status === "NO" && error.code === "UNKNOWN-CTE");
  });

  it("renders ENVELOPE and BODYSTRUCTURE", async () => {
    const { wire } = await fetch("1 (ENVELOPE BODY)");
    assert.equal(
      wire,
      '* 1 FETCH (ENVELOPE ("Tue, 04 Mar 2025 10:00:00 +0000" "Lunch on Friday" (("Alice Example" NIL "alice" "example.org")) (("Alice Example" NIL "alice" "example.org")) (("Alice Example" NIL "alice" "example.org")) ((NIL NIL "bob" "example.net")) NIL NIL NIL "<plain-1@example.org>") ' +
        'BODY ("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 47 5))\r\n',
    );
  });
});

describe("message sets", () => {
  it("UID FETCH skips UIDs that do not exist and always returns UID", async () => {
    const { wire } = await fetch(`1:${uids.plain},9000:9100 FLAGS`, { byUid: true });
    assert.match(wire, new RegExp(`^\\* 1 FETCH \\(UID ${uids.plain} FLAGS \\([^)]*\\)\\)\r\n$`));
  });

  it("FETCH of a sequence number past the last message is BAD", async () => {
    await assert.rejects(fetch("9 FLAGS"), (error: unknown) => error instanceof ImapError && error.status === "BAD");
  });

  it("FETCH * names the last message; a message removed meanwhile is skipped", async () => {
    const extra = await temp.store.append(inbox.id, Buffer.from("Subject: brief\r\n\r\nx\r\n"));
    const mailbox = (await temp.store.getMailboxById(inbox.id))!;
    const selected = await SelectedMailbox.open(temp.store, mailbox, false);
    assert.equal((await fetch("* UID", { selected })).wire, `* 5 FETCH (UID ${extra.uid})\r\n`);
    await temp.store.removeMessages(inbox.id, [extra.uid]);
    const run = await fetch("4:* UID", { selected });
    assert.equal(run.wire, `* 4 FETCH (UID ${uids.uu})\r\n`);
    assert.equal(run.completion?.code, "EXPUNGEISSUED");
  });

  it("leaves out a message another session expunges while its bytes are read, with OK [EXPUNGEISSUED] (RFC 5530)", async () => {
    for (const items of ["BODY.PEEK[HEADER.FIELDS (Subject)]", "BODY.PEEK[]", "(FLAGS BODY.PEEK[TEXT])"]) {
      const doomed = await temp.store.append(inbox.id, Buffer.from("Subject: doomed\r\n\r\nbye\r\n"));
      const mailbox = (await temp.store.getMailboxById(inbox.id))!;
      const selected = await SelectedMailbox.open(temp.store, mailbox, false);
      // The expunge lands between the metadata read and the byte read: the race the stress test found.
      const racing = new Proxy(temp.store, {
        get: (target, name, receiver) => {
          const value: unknown = Reflect.get(target, name, receiver);
          if (name !== "getMessages" || typeof value !== "function") return typeof value === "function" ? value.bind(target) : value;
          return async (...args: Parameters<MailStore["getMessages"]>) => {
            const found = await target.getMessages(...args);
            await target.removeMessages(inbox.id, [doomed.uid]);
            return found;
          };
        },
      });
      const run = await fetch(`${uids.uu}:${doomed.uid} ${items}`, { selected, store: racing, byUid: true });
      assert.match(run.wire, new RegExp(`^\\* 4 FETCH \\(UID ${uids.uu} [^]*\\)\r\n$`), items);
      assert.doesNotMatch(run.wire, /doomed|bye/, items);
      assert.equal(run.completion?.code, "EXPUNGEISSUED", items);
    }
  });
});

describe("FETCH of the light index (UID, FLAGS, MODSEQ, INTERNALDATE, RFC822.SIZE)", () => {
  it("answers UID FLAGS from the session's flag bits when it is current and no message has keywords", async () => {
    const selected = await SelectedMailbox.open(temp.store, (await temp.store.getMailboxById(inbox.id))!, false);
    const reads: string[] = [];
    const spy = new Proxy(temp.store, {
      get: (target, name, receiver) => {
        if (name === "getMessages" || name === "getSummaries" || name === "listMessages") reads.push(name);
        const value: unknown = Reflect.get(target, name, receiver);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const { wire } = await fetch("1:* (UID FLAGS)", { selected, store: spy });
    assert.deepEqual(reads, []);
    assert.equal(wire.split("\r\n").filter((line) => line.startsWith("* ")).length, selected.messageCount);
  });

  it("reads the store when another session changed the mailbox since the last sync", async () => {
    const selected = await SelectedMailbox.open(temp.store, (await temp.store.getMailboxById(inbox.id))!, false);
    const { updated } = await temp.store.updateFlags(inbox.id, [uids.nested!], { mode: "add", flags: ["$Elsewhere"] });
    const { wire } = await fetch(`${uids.nested} (FLAGS MODSEQ RFC822.SIZE)`, { selected, byUid: true, enabled: ["CONDSTORE"] });
    const size = (await stored(uids.nested!)).size;
    assert.equal(wire, `* 3 FETCH (UID ${uids.nested} FLAGS (${updated[0]!.flags.join(" ")}) MODSEQ (${updated[0]!.modseq}) RFC822.SIZE ${size})\r\n`);
    selected.markDirty();
    const again = await selected.sync(temp.store, { allowExpunge: true, condstore: true, qresync: false });
    // Only the FLAGS announcing $Elsewhere may remain: no FETCH repeats the change.
    assert.deepEqual(again.filter((r) => r.some((v) => v.kind === "atom" && v.value === "FETCH")), [], "the change FETCH reported is not repeated");
  });
});

describe("CONDSTORE and QRESYNC (RFC 7162)", () => {
  it("MODSEQ enables CONDSTORE and is rendered as a list", async () => {
    const { wire, enabled, selected } = await fetch("1 (MODSEQ)");
    assert.ok(enabled.has("CONDSTORE"));
    assert.equal(wire, `* OK [HIGHESTMODSEQ ${selected.highestModSeq}] Highest\r\n* 1 FETCH (MODSEQ (${(await stored(uids.plain!)).modseq}))\r\n`);
    // Already enabled: no second HIGHESTMODSEQ.
    assert.doesNotMatch((await fetch("1 (MODSEQ)", { enabled: ["CONDSTORE"] })).wire, /HIGHESTMODSEQ/);
  });

  it("CHANGEDSINCE returns only later changes and implies MODSEQ", async () => {
    const before = (await temp.store.getMailboxById(inbox.id))!.highestModSeq;
    const { updated } = await temp.store.updateFlags(inbox.id, [uids.mixed!], { mode: "add", flags: ["$Work"] });
    const { wire, enabled, selected } = await fetch(`1:* (FLAGS) (CHANGEDSINCE ${before})`, { byUid: true });
    assert.ok(enabled.has("CONDSTORE"));
    assert.equal(wire, `* OK [HIGHESTMODSEQ ${selected.highestModSeq}] Highest\r\n* 2 FETCH (UID ${uids.mixed} FLAGS ($Work) MODSEQ (${updated[0]!.modseq}))\r\n`);
  });

  it("VANISHED (EARLIER) reports UIDs of the set expunged since, before the FETCH data", async () => {
    const modseq = (await temp.store.getMailboxById(inbox.id))!.highestModSeq;
    const doomed = await temp.store.append(inbox.id, Buffer.from("Subject: doomed\r\n\r\nx\r\n"));
    const other = await temp.store.append(inbox.id, Buffer.from("Subject: other\r\n\r\nx\r\n"));
    await temp.store.removeMessages(inbox.id, [doomed.uid]);
    const { wire } = await fetch(`1:* (FLAGS) (CHANGEDSINCE ${modseq} VANISHED)`, { byUid: true, enabled: ["QRESYNC"] });
    const otherModseq = (await stored(other.uid)).modseq;
    assert.equal(wire, `* VANISHED (EARLIER) ${doomed.uid}\r\n* 5 FETCH (UID ${other.uid} FLAGS () MODSEQ (${otherModseq}))\r\n`);
    // The set limits what is reported.
    const limited = await fetch(`1:${doomed.uid - 1} (FLAGS) (CHANGEDSINCE ${modseq} VANISHED)`, { byUid: true, enabled: ["QRESYNC"] });
    assert.equal(limited.wire, "");
  });

  it("VANISHED is BAD without QRESYNC, in FETCH, or without CHANGEDSINCE", () => {
    const parse = (line: string, byUid: boolean, enabled: ImapExtension[]) =>
      fetchCommand.parse(ArgumentReader.ofLine(line), { name: "FETCH", byUid, enabled: new Set(enabled), rev2: false });
    assert.throws(() => parse("1:* FLAGS (CHANGEDSINCE 1 VANISHED)", true, []), (e: unknown) => e instanceof ImapError && e.status === "BAD");
    assert.throws(() => parse("1:* FLAGS (CHANGEDSINCE 1 VANISHED)", false, ["QRESYNC"]), (e: unknown) => e instanceof ImapError && e.status === "BAD");
    assert.throws(() => parse("1:* FLAGS (VANISHED)", true, ["QRESYNC"]));
    assert.ok(parse("1:* FLAGS (CHANGEDSINCE 1 VANISHED)", true, ["QRESYNC"]));
  });
});

describe("ENVELOPE and BODYSTRUCTURE encoded at delivery", () => {
  it("FETCH 1:* (UID ENVELOPE BODYSTRUCTURE) writes the stored bytes, the same as rendering the stored structure, without getMessages", async () => {
    const calls: string[] = [];
    const store = new Proxy(temp.store, {
      get(target, property, receiver) {
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          calls.push(String(property));
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const { wire } = await fetch("1:* (UID ENVELOPE BODYSTRUCTURE)", { store });
    assert.ok(!calls.includes("getMessages") && !calls.includes("openMessage"), calls.join(","));
    const stored = await temp.store.getMessages(inbox.id, (await temp.store.listMessages(inbox.id)).map((m) => m.uid));
    const expected = stored
      .map((m, i) => {
        const values: ImapValue[] = [num(i + 1), atom("FETCH"), list([atom("UID"), num(m.uid), atom("ENVELOPE"), renderEnvelope(m.envelope), atom("BODYSTRUCTURE"), renderBodyStructure(m.structure, { utf8: false })])];
        return `* ${encodeValue(list(values)).toString("latin1").slice(1, -1)}\r\n`;
      })
      .join("");
    assert.equal(wire, expected);
    assert.match(wire, /"MESSAGE" "RFC822" NIL NIL NIL "7BIT" 290 \(NIL "Plans"/, "the encapsulated message's envelope is there");
  });
});

describe("many messages", () => {
  it("loads metadata in batches and answers every message once, in order", async () => {
    const box = await temp.store.createMailbox((await temp.store.getMailboxById(inbox.id))!.accountId, "Bulk");
    for (let i = 0; i < 230; i++) await temp.store.append(box.id, Buffer.from(`Subject: n${i}\r\n\r\n${i}\r\n`));
    const selected = await SelectedMailbox.open(temp.store, (await temp.store.getMailboxById(box.id))!, false);
    const { wire } = await fetch("1:* BODY.PEEK[HEADER.FIELDS (SUBJECT)]", { selected });
    const lines = wire.split("\r\n").filter((line) => line.startsWith("Subject:"));
    assert.equal(lines.length, 230);
    assert.deepEqual(lines, Array.from({ length: 230 }, (_, i) => `Subject: n${i}`));
  });
});
