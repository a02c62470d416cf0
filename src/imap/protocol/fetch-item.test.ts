import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ArgumentReader } from "./arguments.js";
import { formatPartialOrigin, formatSection, readFetchRequest, type FetchItem, type FetchRequest } from "./fetch-item.js";
import { ImapParseError } from "./parse-error.js";

const read = (text: string, byUid = false): FetchRequest => readFetchRequest(ArgumentReader.ofLine(text), byUid);
const items = (text: string, byUid = false): FetchItem[] => read(text, byUid).items;
const section = (part: number[], text: Record<string, unknown> = { kind: "all" }, partial: unknown = null, peek = false): FetchItem =>
  ({ kind: "body-section", section: { part, text }, partial, peek }) as FetchItem;

describe("FETCH attributes (RFC 9051 §6.4.5)", () => {
  const table: [string, FetchItem[]][] = [
    ["FLAGS", [{ kind: "flags" }]],
    ["fast", [{ kind: "flags" }, { kind: "internaldate" }, { kind: "rfc822.size" }]],
    ["ALL", [{ kind: "flags" }, { kind: "internaldate" }, { kind: "rfc822.size" }, { kind: "envelope" }]],
    ["FULL", [{ kind: "flags" }, { kind: "internaldate" }, { kind: "rfc822.size" }, { kind: "envelope" }, { kind: "body" }]],
    ["(UID RFC822.SIZE BODYSTRUCTURE BODY MODSEQ)", [{ kind: "uid" }, { kind: "rfc822.size" }, { kind: "bodystructure" }, { kind: "body" }, { kind: "modseq" }]],
    ["(RFC822 RFC822.HEADER RFC822.TEXT ENVELOPE)", [{ kind: "rfc822" }, { kind: "rfc822.header" }, { kind: "rfc822.text" }, { kind: "envelope" }]],
    ["BODY[]", [section([])]],
    ["body.peek[]", [section([], { kind: "all" }, null, true)]],
    ["BODY[]<0.2048>", [section([], { kind: "all" }, { start: 0, length: 2048 })]],
    ["BODY[HEADER]", [section([], { kind: "header" })]],
    ["BODY[TEXT]<10.5>", [section([], { kind: "text" }, { start: 10, length: 5 })]],
    ["BODY[1.2]", [section([1, 2])]],
    ["BODY[4.2.MIME]", [section([4, 2], { kind: "mime" })]],
    ["BODY[3.header]", [section([3], { kind: "header" })]],
    ["BODY[3.TEXT]", [section([3], { kind: "text" })]],
    ["BODY.PEEK[HEADER.FIELDS (From To \"Message-ID\")]", [section([], { kind: "header-fields", names: ["From", "To", "Message-ID"], not: false }, null, true)]],
    ["BODY[2.HEADER.FIELDS.NOT (Received)]<0.100>", [section([2], { kind: "header-fields", names: ["Received"], not: true }, { start: 0, length: 100 })]],
    ["BINARY[1]", [{ kind: "binary", part: [1], partial: null, peek: false }]],
    ["BINARY.PEEK[1.2]<5.10>", [{ kind: "binary", part: [1, 2], partial: { start: 5, length: 10 }, peek: true }]],
    ["BINARY[]", [{ kind: "binary", part: [], partial: null, peek: false }]],
    ["BINARY.SIZE[3]", [{ kind: "binary.size", part: [3] }]],
    ["BODY[]<18446744073.1>", [section([], { kind: "all" }, { start: 18446744073, length: 1 })]],
  ];
  for (const [text, expected] of table) {
    it(text, () => assert.deepEqual(items(text), expected));
  }

  it("takes a header field name given as a literal", () => {
    const args = new ArgumentReader(
      { lines: [Buffer.from("BODY.PEEK[HEADER.FIELDS (From {7}"), Buffer.from(")]")], literals: [{ size: 7, chunks: [Buffer.from("Subject")], binary: false }] },
      { utf8Names: false },
    );
    assert.deepEqual(readFetchRequest(args, false).items, [
      section([], { kind: "header-fields", names: ["From", "Subject"], not: false }, null, true),
    ]);
  });

  it("adds UID to every UID FETCH, and only once", () => {
    assert.deepEqual(items("FLAGS", true), [{ kind: "uid" }, { kind: "flags" }]);
    assert.deepEqual(items("(FLAGS UID)", true), [{ kind: "flags" }, { kind: "uid" }]);
    assert.deepEqual(items("FAST", true)[0], { kind: "uid" });
  });

  it("reads the RFC 7162 modifiers", () => {
    assert.deepEqual(read("(FLAGS) (CHANGEDSINCE 12345)").modifiers, { changedSince: 12345n, vanished: false, partial: null });
    assert.deepEqual(read("FLAGS (CHANGEDSINCE 9 VANISHED)", true).modifiers, { changedSince: 9n, vanished: true, partial: null });
    assert.deepEqual(read("FLAGS (vanished changedsince 9223372036854775807)", true).modifiers, {
      changedSince: 9223372036854775807n,
      vanished: true,
      partial: null,
    });
    assert.deepEqual(read("FLAGS").modifiers, { changedSince: null, vanished: false, partial: null });
  });
});

describe("FETCH attributes refused with BAD", () => {
  const bad = [
    "",
    "()",
    "(FLAGS",
    "FLAGS)",
    "(FLAGS  UID)",
    " FLAGS",
    "(ALL)",
    "(FAST FLAGS)",
    "FOO",
    "BODY[",
    "BODY[]]",
    "BODY[0]",
    "BODY[01]",
    "BODY[1.]",
    "BODY[.1]",
    "BODY[1..2]",
    "BODY[MIME]",
    "BODY[HEADER.FIELDS]",
    "BODY[HEADER.FIELDS ()]",
    "BODY[HEADER.FIELDS (a:b)]",
    "BODY[HEADER.FIELDS.NOT(From)]",
    "BODY[TEXT.1]",
    "BODY[4294967296]",
    "BODY[]<0>",
    "BODY[]<0.0>",
    "BODY[]<a.1>",
    "BODY[]<1.2",
    "BODY[]<99999999999999999999.1>",
    "BODY.PEEK",
    "BINARY[1.MIME]",
    "BINARY[HEADER]",
    "BINARY.SIZE[1]<0.10>",
    "BINARY.SIZE",
    "RFC822.PEEK",
    "FLAGS (CHANGEDSINCE)",
    "FLAGS (CHANGEDSINCE 1 CHANGEDSINCE 2)",
    "FLAGS (VANISHED)",
    "FLAGS (CHANGEDSINCE 1) extra",
    "FLAGS (FOO 1)",
    "FLAGS ()",
    `BODY[${"1.".repeat(200)}1]`,
  ];
  for (const text of bad) {
    it(JSON.stringify(text), () => assert.throws(() => read(text), ImapParseError));
  }
});

describe("FETCH grammar robustness", () => {
  it("never throws anything but ImapParseError on random input", () => {
    const alphabet = fc.constantFrom(..."BODY.PEEK[]()<>0123456789 HEADER.FIELDS.NOT TEXT MIME BINARY SIZE UID FLAGS \"\\{}~*%".split(""));
    const fetchish = fc.array(alphabet, { maxLength: 80 }).map((chars) => chars.join(""));
    fc.assert(
      fc.property(fc.oneof(fetchish, fc.string({ maxLength: 80 }), fc.string({ unit: "grapheme", maxLength: 40 })), fc.boolean(), (text, byUid) => {
        try {
          const request = read(text, byUid);
          assert.ok(request.items.length > 0);
        } catch (error) {
          if (!(error instanceof ImapParseError)) throw error;
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe("response names", () => {
  it("writes sections back as the RFC spells them", () => {
    const sectionOf = (text: string) => {
      const item = items(text)[0];
      assert.ok(item?.kind === "body-section");
      return item;
    };
    assert.equal(formatSection(sectionOf("BODY[]").section), "");
    assert.equal(formatSection(sectionOf("BODY[1.2.mime]").section), "1.2.MIME");
    assert.equal(formatSection(sectionOf("BODY[3.header.fields (from \"a(b\" \"c\\\\d\")]").section), '3.HEADER.FIELDS (from "a(b" "c\\\\d")');
    assert.equal(formatSection(sectionOf("BODY[HEADER.FIELDS.NOT (Received)]").section), "HEADER.FIELDS.NOT (Received)");
    assert.equal(formatPartialOrigin(sectionOf("BODY[TEXT]<7.9>").partial), "<7>");
    assert.equal(formatPartialOrigin(null), "");
  });
});

describe("FETCH EMAILID/THREADID (RFC 8474), SAVEDATE (RFC 8514), PREVIEW (RFC 8970)", () => {
  it("parses the items and the PREVIEW (LAZY) modifier, in a list and alone", () => {
    assert.deepEqual(items("(EMAILID THREADID SAVEDATE PREVIEW)"), [{ kind: "emailid" }, { kind: "threadid" }, { kind: "savedate" }, { kind: "preview", lazy: false }]);
    assert.deepEqual(items("(PREVIEW (LAZY) FLAGS)"), [{ kind: "preview", lazy: true }, { kind: "flags" }]);
    assert.deepEqual(items("preview (lazy)"), [{ kind: "preview", lazy: true }]);
    // A fetch-modifier list after a lone PREVIEW is the command's, not PREVIEW's.
    const request = read("PREVIEW (CHANGEDSINCE 5)");
    assert.deepEqual(request.items, [{ kind: "preview", lazy: false }]);
    assert.equal(request.modifiers.changedSince, 5n);
  });

  it("refuses unknown, repeated and empty PREVIEW modifiers", () => {
    for (const bad of ["(PREVIEW (FAST))", "(PREVIEW (LAZY LAZY))", "(PREVIEW ())", "(PREVIEW (LAZY)", "(EMAILID[])"]) {
      assert.throws(() => read(bad), ImapParseError, bad);
    }
  });
});

describe("FETCH PARTIAL modifier (RFC 9394 §3.3)", () => {
  it("reads both range forms and refuses the others", () => {
    assert.deepEqual(read("FLAGS (PARTIAL 1:5)", true).modifiers.partial, { text: "1:5", first: 1, last: 5, fromEnd: false });
    assert.deepEqual(read("FLAGS (PARTIAL -30:-1)", true).modifiers.partial, { text: "-30:-1", first: 1, last: 30, fromEnd: true });
    for (const bad of ["FLAGS (PARTIAL)", "FLAGS (PARTIAL 0:5)", "FLAGS (PARTIAL 1:*)", "FLAGS (PARTIAL -1:5)", "FLAGS (PARTIAL 1:5 PARTIAL 1:2)", "FLAGS (PARTIAL 1:4294967296)"]) {
      assert.throws(() => read(bad, true), ImapParseError, bad);
    }
  });
});
