import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { ArgumentReader } from "./arguments.js";
import { ImapParseError } from "./parse-error.js";
import { applyPartialRange, mapSearchSets, parseSearchProgram, someSearchKey, type SearchKey, type SearchProgram } from "./search-key.js";
import type { SequenceSet } from "./sequence-set.js";

const parse = (line: string, limits?: { maxDepth: number; maxKeys: number }): SearchProgram<SequenceSet> =>
  parseSearchProgram(ArgumentReader.ofLine(line), limits);
const keyOf = (line: string): SearchKey<SequenceSet> => parse(line).key;
const day = (iso: string): number => Date.parse(`${iso}T00:00:00Z`) / 86_400_000;
const ranges = (...r: [number, number][]): SequenceSet => ({ kind: "ranges", ranges: r.map(([start, end]) => ({ start, end })) });

test("every RFC 9051 §6.4.4 key parses to its tree node", () => {
  const cases: [string, SearchKey<SequenceSet>][] = [
    ["ALL", { kind: "all" }],
    ["ANSWERED", { kind: "flag", flag: "\\Answered", present: true }],
    ["unanswered", { kind: "flag", flag: "\\Answered", present: false }],
    ["DELETED", { kind: "flag", flag: "\\Deleted", present: true }],
    ["UNDELETED", { kind: "flag", flag: "\\Deleted", present: false }],
    ["DRAFT", { kind: "flag", flag: "\\Draft", present: true }],
    ["UNDRAFT", { kind: "flag", flag: "\\Draft", present: false }],
    ["FLAGGED", { kind: "flag", flag: "\\Flagged", present: true }],
    ["UNFLAGGED", { kind: "flag", flag: "\\Flagged", present: false }],
    ["Seen", { kind: "flag", flag: "\\Seen", present: true }],
    ["UNSEEN", { kind: "flag", flag: "\\Seen", present: false }],
    ["KEYWORD $Forwarded", { kind: "flag", flag: "$Forwarded", present: true }],
    ["UNKEYWORD Junk", { kind: "flag", flag: "Junk", present: false }],
    ["RECENT", { kind: "recent" }],
    ["NEW", { kind: "and", keys: [{ kind: "recent" }, { kind: "flag", flag: "\\Seen", present: false }] }],
    ["OLD", { kind: "not", key: { kind: "recent" } }],
    ["BCC x", { kind: "address", field: "bcc", value: "x" }],
    ["CC \"a b\"", { kind: "address", field: "cc", value: "a b" }],
    ["FROM alice@example.com", { kind: "address", field: "from", value: "alice@example.com" }],
    ["TO \"\"", { kind: "address", field: "to", value: "" }],
    ["SUBJECT \"Gr\u00fc\u00dfe\"", { kind: "subject", value: "Gr\u00fc\u00dfe" }],
    ["BODY needle", { kind: "body", value: "needle" }],
    ["TEXT needle", { kind: "text", value: "needle" }],
    ["HEADER X-Spam-Flag YES", { kind: "header", field: "X-Spam-Flag", value: "YES" }],
    ["HEADER \"Message-ID\" \"\"", { kind: "header", field: "Message-ID", value: "" }],
    ["BEFORE 1-Feb-1994", { kind: "internal-date", comparison: "before", day: day("1994-02-01") }],
    ["ON \"29-Feb-2024\"", { kind: "internal-date", comparison: "on", day: day("2024-02-29") }],
    ["SINCE 31-dec-1969", { kind: "internal-date", comparison: "since", day: -1 }],
    ["SENTBEFORE 5-Mar-2025", { kind: "sent-date", comparison: "before", day: day("2025-03-05") }],
    ["SENTON 05-Mar-2025", { kind: "sent-date", comparison: "on", day: day("2025-03-05") }],
    ["SENTSINCE 5-MAR-2025", { kind: "sent-date", comparison: "since", day: day("2025-03-05") }],
    ["LARGER 1024", { kind: "size", comparison: "larger", octets: 1024 }],
    ["SMALLER 9223372036854775807", { kind: "size", comparison: "smaller", octets: Number(9223372036854775807n) }],
    ["UID 1:3,7", { kind: "uid", set: ranges([1, 3], [7, 7]) }],
    ["UID $", { kind: "uid", set: { kind: "saved" } }],
    ["2:4", { kind: "sequence", set: ranges([2, 4]) }],
    ["$", { kind: "sequence", set: { kind: "saved" } }],
    ["1:*", { kind: "sequence", set: { kind: "ranges", ranges: [{ start: 1, end: "*" }] } }],
    ["NOT SEEN", { kind: "not", key: { kind: "flag", flag: "\\Seen", present: true } }],
    ["OR SEEN 3", { kind: "or", left: { kind: "flag", flag: "\\Seen", present: true }, right: { kind: "sequence", set: ranges([3, 3]) } }],
    ["(SEEN)", { kind: "flag", flag: "\\Seen", present: true }],
    ["MODSEQ 0", { kind: "modseq", modseq: 0, entry: null }],
    ["MODSEQ \"/flags/\\\\draft\" all 620162338", { kind: "modseq", modseq: 620162338, entry: { name: "/flags/\\draft", type: "all" } }],
    ["MODSEQ \"/flags/$Junk\" priv 5", { kind: "modseq", modseq: 5, entry: { name: "/flags/$Junk", type: "priv" } }],
  ];
  for (const [line, expected] of cases) assert.deepEqual(keyOf(line), expected, line);
});

test("a key list is an implicit AND, parenthesised lists nest, literals carry strings", () => {
  assert.deepEqual(keyOf("DELETED FROM \"SMITH\" SINCE 1-Feb-1994"), {
    kind: "and",
    keys: [
      { kind: "flag", flag: "\\Deleted", present: true },
      { kind: "address", field: "from", value: "SMITH" },
      { kind: "internal-date", comparison: "since", day: day("1994-02-01") },
    ],
  });
  assert.deepEqual(keyOf("OR (SEEN FLAGGED) NOT (DRAFT)"), {
    kind: "or",
    left: { kind: "and", keys: [{ kind: "flag", flag: "\\Seen", present: true }, { kind: "flag", flag: "\\Flagged", present: true }] },
    right: { kind: "not", key: { kind: "flag", flag: "\\Draft", present: true } },
  });
  const withLiteral = new ArgumentReader(
    { lines: [Buffer.from("CHARSET UTF-8 TEXT {6}"), Buffer.from(" SEEN")], literals: [{ size: 6, chunks: [Buffer.from("Grüß", "utf8")], binary: false }] },
    { utf8Names: true },
  );
  const program = parseSearchProgram(withLiteral);
  assert.equal(program.charset, "UTF-8");
  assert.deepEqual(program.key, { kind: "and", keys: [{ kind: "text", value: "Grüß" }, { kind: "flag", flag: "\\Seen", present: true }] });
});

test("RETURN options (RFC 4731) and CHARSET", () => {
  assert.deepEqual(parse("RETURN (MIN MAX) ALL"), { returnOptions: ["MIN", "MAX"], charset: null, key: { kind: "all" } });
  assert.deepEqual(parse("RETURN () ALL").returnOptions, ["ALL"], "RETURN () means ALL");
  assert.deepEqual(parse("return (save count save) UNSEEN").returnOptions, ["SAVE", "COUNT"]);
  assert.deepEqual(parse("RETURN (COUNT) CHARSET us-ascii ALL"), { returnOptions: ["COUNT"], charset: "US-ASCII", key: { kind: "all" } });
  assert.equal(parse("CHARSET \"utf-8\" ALL").charset, "UTF-8");
  assert.equal(parse("ALL").returnOptions, null);
});

test("an unsupported charset is NO [BADCHARSET], not BAD (RFC 9051 §6.4.4)", () => {
  assert.throws(
    () => parse("CHARSET ISO-8859-1 TEXT x"),
    (e: unknown) => e instanceof ImapParseError && e.status === "NO" && e.code === "BADCHARSET (UTF-8 US-ASCII)",
  );
});

test("syntax errors are BAD", () => {
  const bad = [
    "",
    "BOGUS",
    "FROM",
    "FROM ",
    "SEEN  UNSEEN",
    "SEEN ",
    "(SEEN",
    "SEEN)",
    "()",
    "NOT",
    "OR SEEN",
    "BEFORE 30-Feb-2024",
    "BEFORE 1-Foo-2024",
    "BEFORE 2024-01-01",
    "LARGER -1",
    "LARGER 9223372036854775808",
    "UID",
    "UID x",
    "0",
    "1:0",
    "KEYWORD \\Seen",
    "HEADER Subject",
    "RETURN (MIN) ",
    "RETURN (BOGUS) ALL",
    "RETURN MIN ALL",
    "CHARSET",
    "CHARSET UTF-8",
    "MODSEQ",
    "MODSEQ \"/flags/x\" 5",
    "MODSEQ \"/other/x\" all 5",
    "MODSEQ \"/flags/x\" mine 5",
    "ALL\r\n",
  ];
  for (const line of bad) {
    assert.throws(() => parse(line), (e: unknown) => e instanceof ImapParseError && e.status === "BAD", JSON.stringify(line));
  }
});

test("depth and key-count limits are enforced, and hostile nesting fails cleanly", () => {
  const limits = { maxDepth: 5, maxKeys: 10 };
  assert.doesNotThrow(() => parse("NOT NOT NOT NOT NOT SEEN", limits));
  assert.throws(() => parse("NOT NOT NOT NOT NOT NOT SEEN", limits), /nested too deeply/);
  assert.doesNotThrow(() => parse(Array(10).fill("SEEN").join(" "), limits));
  assert.throws(() => parse(Array(11).fill("SEEN").join(" "), limits), /too many search keys/);
  // Defaults: a deep OR chain or a huge flat list of keys is refused, not a stack overflow.
  assert.throws(() => parse("OR ".repeat(100_000) + "SEEN"), ImapParseError);
  assert.throws(() => parse("NOT ".repeat(100_000) + "SEEN"), ImapParseError);
  assert.throws(() => parse("(".repeat(100_000) + "SEEN" + ")".repeat(100_000)), ImapParseError);
  assert.throws(() => parse(Array(5000).fill("SEEN").join(" ")), ImapParseError);
});

test("mapSearchSets resolves every set, someSearchKey finds nested keys", () => {
  const key = keyOf("OR UID 1:2 NOT (3 FROM x)");
  const mapped = mapSearchSets(key, (_set, kind) => kind);
  assert.deepEqual(mapped, {
    kind: "or",
    left: { kind: "uid", set: "uid" },
    right: { kind: "not", key: { kind: "and", keys: [{ kind: "sequence", set: "sequence" }, { kind: "address", field: "from", value: "x" }] } },
  });
  assert.equal(someSearchKey(key, (k) => k.kind === "address"), true);
  assert.equal(someSearchKey(key, (k) => k.kind === "modseq"), false);
});

test("random input never throws anything but ImapParseError", () => {
  const words = ["ALL", "OR", "NOT", "FROM", "UID", "HEADER", "(", ")", " ", "\"", "1:*", "$", "MODSEQ", "RETURN", "(MIN)", "CHARSET", "UTF-8", "BEFORE", "1-Jan-2020", "{3}", "x", "\\", "LARGER", "99999999999999999999"];
  const line = fc.oneof(
    fc.string({ maxLength: 80 }),
    fc.array(fc.constantFrom(...words), { maxLength: 30 }).map((w) => w.join("")),
    fc.array(fc.constantFrom(...words), { maxLength: 30 }).map((w) => w.join(" ")),
  );
  fc.assert(
    fc.property(line, (text) => {
      try {
        parse(text);
      } catch (e) {
        if (!(e instanceof ImapParseError)) throw e;
      }
    }),
    { numRuns: 3000 },
  );
});

test("EMAILID/THREADID (RFC 8474), SAVED* and SAVEDATESUPPORTED (RFC 8514), OLDER/YOUNGER (RFC 5032)", () => {
  assert.deepEqual(keyOf("EMAILID E-a_1"), { kind: "object-id", field: "emailid", value: "E-a_1" });
  assert.deepEqual(keyOf("threadid T9"), { kind: "object-id", field: "threadid", value: "T9" });
  assert.deepEqual(keyOf("SAVEDBEFORE 1-Feb-2025"), { kind: "save-date", comparison: "before", day: day("2025-02-01") });
  assert.deepEqual(keyOf("SAVEDON 1-Feb-2025"), { kind: "save-date", comparison: "on", day: day("2025-02-01") });
  assert.deepEqual(keyOf("SAVEDSINCE 1-Feb-2025"), { kind: "save-date", comparison: "since", day: day("2025-02-01") });
  assert.deepEqual(keyOf("SAVEDATESUPPORTED"), { kind: "savedate-supported" });
  assert.deepEqual(keyOf("OLDER 3600"), { kind: "age", comparison: "older", seconds: 3600 });
  assert.deepEqual(keyOf("YOUNGER 1"), { kind: "age", comparison: "younger", seconds: 1 });
  for (const bad of ["EMAILID", "EMAILID a.b", `EMAILID ${"x".repeat(256)}`, 'THREADID "T1"', "OLDER 0", "YOUNGER -1", "OLDER x", "SAVEDON yesterday"]) {
    assert.throws(() => parse(bad), ImapParseError, bad);
  }
});

test("RETURN (PARTIAL range) (RFC 9394 §3.1, §4) and applyPartialRange", () => {
  const program = parse("RETURN (PARTIAL 500:400 COUNT) ALL");
  assert.deepEqual([...program.returnOptions!], ["PARTIAL", "COUNT"]);
  assert.deepEqual(program.returnOptions!.partial, { text: "400:500", first: 400, last: 500, fromEnd: false });
  assert.deepEqual(parse("RETURN (PARTIAL -1:-100) ALL").returnOptions!.partial, { text: "-1:-100", first: 1, last: 100, fromEnd: true });
  for (const bad of ["RETURN (PARTIAL 1:5 ALL) ALL", "RETURN (ALL PARTIAL 1:5) ALL", "RETURN (PARTIAL 1:5 PARTIAL 6:9) ALL", "RETURN (PARTIAL) ALL", "RETURN (PARTIAL 0:5) ALL", "RETURN (PARTIAL 1:*) ALL", "RETURN (PARTIAL -1:5) ALL", "RETURN (PARTIAL 5) ALL", 'RETURN (PARTIAL "1:5") ALL']) {
    assert.throws(() => parse(bad), ImapParseError, bad);
  }
  const items = [1, 2, 3, 4, 5, 6, 7];
  const range = (first: number, last: number, fromEnd = false) => ({ text: "", first, last, fromEnd });
  assert.deepEqual(applyPartialRange(items, range(1, 3)), [1, 2, 3]);
  assert.deepEqual(applyPartialRange(items, range(6, 10)), [6, 7]);
  assert.deepEqual(applyPartialRange(items, range(8, 10)), []);
  assert.deepEqual(applyPartialRange(items, range(1, 2, true)), [6, 7]);
  assert.deepEqual(applyPartialRange(items, range(3, 100, true)), [1, 2, 3, 4, 5]);
  assert.deepEqual(applyPartialRange(items, range(8, 9, true)), []);
});
