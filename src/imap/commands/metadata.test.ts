// GETMETADATA's selection (RFC 5464 §4.2.2): the named entries, their children with DEPTH 1,
// every descendant with DEPTH infinity, NIL for an absent one with DEPTH 0; and how values go on
// the wire (literal8 only when they hold NUL).
import assert from "node:assert/strict";
import { test } from "node:test";
import { metadataValue, selectEntries } from "./metadata.js";

const entries = ["/private/a", "/private/a/b", "/private/a/b/c", "/private/ab", "/shared/comment"].map((name) => ({ name, value: Buffer.from(name.slice(-1)) }));
const names = (r: ReturnType<typeof selectEntries>) => r.found.map((e) => e.name);

test("depth 0 selects exactly the names and reports the absent ones", () => {
  const r = selectEntries(entries, ["/private/a", "/private/none", "/private/a"], 0);
  assert.deepEqual(names(r), ["/private/a"]);
  assert.deepEqual(r.absent, ["/private/none"]);
});

test("depth 1 adds children, not grandchildren nor siblings sharing a prefix", () => {
  assert.deepEqual(names(selectEntries(entries, ["/private/a"], 1)), ["/private/a", "/private/a/b"]);
  assert.deepEqual(names(selectEntries(entries, ["/private"], 1)), ["/private/a", "/private/ab"]);
  assert.deepEqual(selectEntries(entries, ["/private/none"], 1).absent, []);
});

test("depth infinity selects the whole subtree; overlapping requests list each entry once, sorted", () => {
  assert.deepEqual(names(selectEntries(entries, ["/shared", "/private/a", "/private/a/b"], "infinity")), ["/private/a", "/private/a/b", "/private/a/b/c", "/shared/comment"]);
});

test("values: a string unless they hold NUL, then literal8", () => {
  assert.deepEqual(metadataValue(Buffer.from("plain")), { kind: "string", value: Buffer.from("plain") });
  assert.deepEqual(metadataValue(Buffer.from([97, 0])), { kind: "literal", size: 2, bytes: Buffer.from([97, 0]), binary: true });
});
