// Fuzz campaign for the IMAP command reader (src/imap/protocol/command-reader.ts) and every
// command's argument parser (ArgumentReader productions via the real command table): hostile
// byte streams, built from IMAP-shaped fragments (tags, command names, literal markers of every
// kind, quotes, escapes, brackets, partials, dates, NUL and 8-bit octets) and raw bytes, fed in
// random chunkings. Properties:
// - no crash: the reader never throws; a parser throws only ImapParseError or ImapError (the
//   typed errors the session turns into BAD/NO), never a TypeError or RangeError;
// - no hang: each input is handled within HANG_MS, and the reader yields a bounded number of
//   events and then asks for more input;
// - bounded memory: every command handed out holds at most maxLineLength octets of text and
//   maxLiteralSize octets of literals, and what the reader keeps buffered never exceeds what it
//   was given and not yet handed out (a line without an end is dropped as it grows past the limit).
// Short run in the normal suite; FUZZ_RUNS=200000 for a long one (README, "Tests").
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { ImapExtension } from "../../src/imap/commands/command.js";
import { ImapError } from "../../src/imap/commands/imap-error.js";
import { buildCommandTable } from "../../src/imap/commands/index.js";
import { ArgumentReader } from "../../src/imap/protocol/arguments.js";
import { CommandReader, type ReaderEvent } from "../../src/imap/protocol/command-reader.js";
import { ImapParseError } from "../../src/imap/protocol/parse-error.js";
import { fuzzParameters, fuzzTimeoutMs, HANG_MS } from "./fuzz-runs.js";

const LIMITS = { maxLineLength: 4096, maxLiteralSize: 8192, maxListDepth: 16 };
const table = buildCommandTable();
const COMMANDS = [
  "APPEND", "AUTHENTICATE", "CAPABILITY", "CHECK", "CLOSE", "COPY", "CREATE", "DELETE", "ENABLE", "EXAMINE", "EXPUNGE", "FETCH", "ID", "IDLE",
  "LIST", "LOGIN", "LOGOUT", "LSUB", "MOVE", "NAMESPACE", "NOOP", "RENAME", "SEARCH", "SELECT", "STARTTLS", "STATUS", "STORE", "SUBSCRIBE",
  "UNSELECT", "UNSUBSCRIBE", "UID FETCH", "UID SEARCH", "UID STORE", "UID COPY", "UID MOVE", "UID EXPUNGE",
];
const FRAGMENTS = [
  " ", "  ", "\r\n", "\n", "\r", "(", ")", "((", "))", "[", "]", "<", ">", '"', '\\"', "\\", "\\\\", "{", "}", "~", "+", "*", "%", "$", ",", ":", ".",
  "{0}\r\n", "{5}\r\n", "{3+}\r\n", "~{4}\r\n", "~{2+}\r\n", "{4294967296}\r\n", "{99999999999999999999}\r\n", "{-1}\r\n", "{5", "~{",
  "1", "0", "1:*", "*:1", "1,2,3:5", "4294967295", "4294967296", "18446744073709551616", "$",
  "INBOX", "inbox", "&AOk-", "&", "&-", "&AOk", "~root/x", "..\\..\\x", "a/b", "/", "//", "NIL", "nil",
  "BODY[", "BODY.PEEK[", "BINARY[", "BINARY.SIZE[", "HEADER", "HEADER.FIELDS (", "HEADER.FIELDS.NOT (", "TEXT", "MIME", "1.2.3", "<0.10>", "<5>", "<4294967296.1>",
  "FLAGS", "+FLAGS.SILENT", "-FLAGS", "(\\Seen \\Deleted)", "\\Recent", "\\", "(UNCHANGEDSINCE 5)", "(CHANGEDSINCE 1 VANISHED)", "MODSEQ", "ALL", "FAST", "FULL", "ENVELOPE", "BODYSTRUCTURE",
  "CHARSET", "UTF-8", "OR", "NOT", "SINCE", "1-Jan-2020", '"01-Jan-2026 10:00:00 +0000"', '"31-Feb-2026 25:61:61 +9999"', "SUBJECT", "LARGER", "UID", "RETURN (", "MIN MAX COUNT ALL SAVE",
  "UTF8 (", "UTF8=ACCEPT", "IMAP4rev2", "CONDSTORE", "QRESYNC", "(SUBSCRIBED)", "RETURN (CHILDREN STATUS (MESSAGES))", "(MESSAGES UIDNEXT)", "(USE (\\Archive))", "(\"name\" \"x\")",
  "\u0000", "\u00ff", "\u0080", "é", "😀", "\t",
];

const fragment = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...FRAGMENTS) },
  { weight: 2, arbitrary: fc.constantFrom(...COMMANDS).map((c) => ` ${c} `) },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 12 }).map((b) => Buffer.from(b).toString("latin1")) },
  { weight: 1, arbitrary: fc.nat({ max: 300 }).map((n) => "x".repeat(n * 20)) },
  { weight: 1, arbitrary: fc.nat({ max: 40 }).map((n) => "(".repeat(n)) },
);
/** A command line: tag, name, hostile arguments, usually a line end. */
const commandText = fc
  .tuple(fc.constantFrom("a1", "A2", "*", "+", "", "t$", "x".repeat(70)), fc.constantFrom(...COMMANDS), fc.array(fragment, { maxLength: 40 }), fc.constantFrom("\r\n", "\n", "", "\r\n\r\n"))
  .map(([tag, name, args, end]) => `${tag} ${name} ${args.join("")}${end}`);
const input = fc.oneof(
  { weight: 4, arbitrary: fc.array(commandText, { minLength: 1, maxLength: 8 }).map((lines) => Buffer.from(lines.join(""), "latin1")) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 2000 }).map((bytes) => Buffer.from(bytes)) },
);
const chunking = fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 20 });
const extensions = fc.subarray<ImapExtension>(["CONDSTORE", "QRESYNC", "IMAP4REV2", "UTF8=ACCEPT"]);

/** Feeds the input in the given chunking; checks the reader's framing invariants as it goes. */
function frame(bytes: Buffer, chunks: number[]): ReaderEvent[] {
  const reader = new CommandReader(LIMITS);
  const events: ReaderEvent[] = [];
  let offset = 0;
  for (let i = 0; offset < bytes.length; i++) {
    const size = chunks[i % chunks.length] as number;
    reader.push(bytes.subarray(offset, offset + size));
    offset += size;
    let yielded = 0;
    for (let event = reader.next(); event !== null; event = reader.next()) {
      events.push(event);
      // Each event consumes input or finishes a command: never more events than octets given.
      assert.ok(++yielded <= offset + 1, "the reader keeps yielding events without input");
      if (event.kind === "command") {
        const text = event.text.lines.reduce((n, line) => n + line.length, 0);
        const literals = event.text.literals.reduce((n, literal) => n + literal.size, 0);
        assert.ok(text <= LIMITS.maxLineLength, `command text ${text} > ${LIMITS.maxLineLength}`);
        assert.ok(literals <= LIMITS.maxLiteralSize, `literals ${literals} > ${LIMITS.maxLiteralSize}`);
        assert.equal(event.text.lines.length, event.text.literals.length + 1);
      }
    }
    // What stays buffered is input not yet handed out; a line is never kept past the limit.
    const buffered = (reader as unknown as { buffered: number }).buffered;
    assert.ok(buffered <= LIMITS.maxLineLength + LIMITS.maxLiteralSize, `reader buffers ${buffered} octets`);
  }
  return events;
}

/** Parses one framed command as the session would: tag, name, the command's own parse. */
function parseCommand(event: Extract<ReaderEvent, { kind: "command" }>, enabled: ReadonlySet<ImapExtension>): void {
  const utf8 = enabled.has("IMAP4REV2") || enabled.has("UTF8=ACCEPT");
  const args = new ArgumentReader(event.text, { utf8Names: utf8, maxListDepth: LIMITS.maxListDepth });
  try {
    args.tag();
    args.space();
    let name = args.atom().toUpperCase();
    const byUid = name === "UID";
    if (byUid) {
      args.space();
      name = args.atom().toUpperCase();
    }
    const command = table.find(name, byUid);
    if (command === null) return;
    if (!args.atEnd()) args.space();
    command.parse(args, { name, byUid, enabled, rev2: enabled.has("IMAP4REV2") });
  } catch (error) {
    if (error instanceof ImapParseError || error instanceof ImapError) return;
    throw error;
  }
}

describe("fuzz: IMAP command reader and argument parsers", () => {
  it("hostile input: no crash, no hang, bounded memory", { timeout: fuzzTimeoutMs() }, () => {
    let slowest = 0;
    fc.assert(
      fc.property(input, chunking, extensions, (bytes, chunks, enabled) => {
        const started = performance.now();
        const events = frame(bytes, chunks);
        const set = new Set(enabled);
        for (const event of events) if (event.kind === "command") parseCommand(event, set);
        const took = performance.now() - started;
        slowest = Math.max(slowest, took);
        assert.ok(took < HANG_MS, `one input took ${took.toFixed(0)} ms`);
      }),
      fuzzParameters(),
    );
    console.log(`# command reader fuzz: slowest input ${slowest.toFixed(1)} ms`);
  });

  it("the same commands frame identically under any chunking", { timeout: fuzzTimeoutMs() }, () => {
    const shape = (events: ReaderEvent[]): string[] =>
      events.map((e) => (e.kind === "command" ? `cmd ${Buffer.concat(e.text.lines.flatMap((l, i) => [l, ...(e.text.literals[i]?.chunks ?? [])])).toString("latin1")}` : e.kind === "refused" ? `refused ${e.status} ${e.code} ${e.close}` : e.kind));
    fc.assert(
      fc.property(input, chunking, (bytes, chunks) => {
        assert.deepEqual(shape(frame(bytes, chunks)), shape(frame(bytes, [bytes.length + 1])));
      }),
      fuzzParameters(),
    );
  });

  it("a flood without line ends or with an endless literal stays bounded", () => {
    const reader = new CommandReader(LIMITS);
    const junk = Buffer.alloc(64 * 1024, 0x61);
    const started = performance.now();
    for (let i = 0; i < 256; i++) {
      reader.push(junk);
      while (reader.next() !== null);
      assert.ok((reader as unknown as { buffered: number }).buffered <= LIMITS.maxLineLength);
    }
    // 16 MiB of one line: refused once, dropped as it arrived.
    assert.ok(performance.now() - started < HANG_MS * 5);
  });
});
