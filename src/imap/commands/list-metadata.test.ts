// RFC 9590 LIST RETURN (METADATA (...)): the option's grammar.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ArgumentReader } from "../protocol/arguments.js";
import { MAX_LIST_METADATA_ENTRIES, readListMetadataOption } from "./list-metadata.js";

const read = (text: string): string[] => {
  const args = new ArgumentReader({ lines: [Buffer.from(text)], literals: [] }, { utf8Names: false });
  const entries = readListMetadataOption(args);
  args.end();
  return entries;
};

test("entries are read lower-cased, once each", () => {
  assert.deepEqual(read(" (/private/comment /Shared/Comment /PRIVATE/comment)"), ["/private/comment", "/shared/comment"]);
  assert.deepEqual(read(' ("/private/vendor/x")'), ["/private/vendor/x"]);
});

test("bad entry lists are parse errors", () => {
  for (const bad of [" ()", " /private/comment", " (/private)", " (/private/*)", " (/other/x)", " (/private//x)", "(/private/x)"]) assert.throws(() => read(bad), bad);
  const many = Array.from({ length: MAX_LIST_METADATA_ENTRIES + 1 }, (_, i) => `/private/e${i}`).join(" ");
  assert.throws(() => read(` (${many})`));
  assert.equal(read(` (${many.split(" ").slice(1).join(" ")})`).length, MAX_LIST_METADATA_ENTRIES);
});
