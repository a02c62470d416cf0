// RFC 5464 §5 grammar: GETMETADATA options, entries and the server mailbox "", SETMETADATA
// values (nstring / literal8), and the entry-name rules of §3.2.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ArgumentReader } from "./arguments.js";
import { entryNameProblem, readGetMetadata, readSetMetadata } from "./metadata.js";
import { ImapParseError } from "./parse-error.js";

const get = (line: string) => readGetMetadata(ArgumentReader.ofLine(line), false);
const set = (line: string) => readSetMetadata(ArgumentReader.ofLine(line), false);

test("GETMETADATA: options in any order, one entry or a list, names lower-cased, \"\" is the server", () => {
  assert.deepEqual(get('"" /shared/Comment'), { mailbox: null, maxSize: null, depth: 0, entries: ["/shared/comment"] });
  assert.deepEqual(get("(DEPTH infinity MAXSIZE 1024) INBOX (/private /shared/a)"), { mailbox: "INBOX", maxSize: 1024, depth: "infinity", entries: ["/private", "/shared/a"] });
  assert.deepEqual(get('(depth 1) "Sent Items" "/Private/X.Y"'), { mailbox: "Sent Items", maxSize: null, depth: 1, entries: ["/private/x.y"] });
  assert.equal(get("(DEPTH 1) INBOX /private").depth, 1);
});

test("GETMETADATA refuses malformed options and names with BAD", () => {
  for (const line of ["(DEPTH 2) INBOX /private", "(MAXSIZE x) INBOX /private", "() INBOX /private", "(DEPTH 1 DEPTH 0) INBOX /private", "(FOO 1) INBOX /private", "INBOX /other", "INBOX /private/*", "INBOX", "INBOX ()"]) {
    assert.throws(() => get(line), ImapParseError, line);
  }
});

test("SETMETADATA: values are strings, literals, literal8 or NIL; names must be below /private or /shared", () => {
  assert.deepEqual(set('INBOX (/private/a "x" /shared/b NIL)'), { mailbox: "INBOX", values: [{ name: "/private/a", value: Buffer.from("x") }, { name: "/shared/b", value: null }] });
  const text = { lines: [Buffer.from("INBOX (/private/bin ~{3}"), Buffer.from(")")], literals: [{ size: 3, chunks: [Buffer.from([0, 1, 2])], binary: true }] };
  const parsed = readSetMetadata(new ArgumentReader(text, { utf8Names: false }), false);
  assert.deepEqual(parsed.values[0]?.value, Buffer.from([0, 1, 2]));
  for (const line of ["INBOX ()", "INBOX (/private \"x\")", "INBOX (/private/a)", 'INBOX (/private/a "x" /private/A "y")', 'INBOX (/private/a% "x")', "INBOX /private/a \"x\""]) {
    assert.throws(() => set(line), ImapParseError, line);
  }
});

test("entry names: printable ASCII paths without empty components or wildcards", () => {
  assert.equal(entryNameProblem("/private/vendor/example.com/x", true), null);
  assert.equal(entryNameProblem("/shared", false), null);
  assert.notEqual(entryNameProblem("/shared", true), null);
  assert.notEqual(entryNameProblem("/private//x", true), null);
  assert.notEqual(entryNameProblem("/private/x/", true), null);
  assert.notEqual(entryNameProblem("/private/\u00e9", true), null);
  assert.notEqual(entryNameProblem("/private/a\tb", true), null);
  assert.notEqual(entryNameProblem("/privately", true), null);
});
