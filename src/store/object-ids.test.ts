import assert from "node:assert/strict";
import { test } from "node:test";
import type { Mailbox } from "./types.js";
import { mailboxObjectId, MAX_THREAD_KEYS, newEmailId, newThreadId, OBJECT_ID, previewFromText, previewOf, threadKeys } from "./object-ids.js";

test("new ids are objectids (RFC 8474 §7) and distinct", () => {
  const ids = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const e = newEmailId();
    const t = newThreadId();
    assert.match(e, OBJECT_ID);
    assert.match(t, OBJECT_ID);
    ids.add(e).add(t);
  }
  assert.equal(ids.size, 400);
});

test("MAILBOXID depends on the row id and UIDVALIDITY only", () => {
  const box = (id: number, uidValidity: number) => ({ id, uidValidity }) as Pick<Mailbox, "id" | "uidValidity">;
  assert.match(mailboxObjectId(box(7, 1733000000)), OBJECT_ID);
  assert.equal(mailboxObjectId(box(7, 5)), mailboxObjectId(box(7, 5)));
  assert.notEqual(mailboxObjectId(box(7, 5)), mailboxObjectId(box(8, 5)));
  assert.notEqual(mailboxObjectId(box(7, 5)), mailboxObjectId(box(7, 6)));
  // No concatenation ambiguity: (1, 23) and (12, 3).
  assert.notEqual(mailboxObjectId(box(23, 1)), mailboxObjectId(box(3, 12)));
});

test("threadKeys: own Message-ID, References newest first, In-Reply-To; lower-cased, distinct, capped", () => {
  const keys = threadKeys(
    { messageId: "<Me@X>", inReplyTo: "<b@x> (comment)" },
    [{ name: "References", value: "<a@x>\t<B@x>" }, { name: "Subject", value: "<no@x>" }],
  );
  assert.deepEqual(keys, ["me@x", "b@x", "a@x"]);
  assert.deepEqual(threadKeys({ messageId: null, inReplyTo: null }), []);
  assert.deepEqual(threadKeys({ messageId: "no brackets", inReplyTo: null }), []);
  const many = Array.from({ length: 300 }, (_, i) => `<r${i}@x>`).join(" ");
  assert.equal(threadKeys({ messageId: "<m@x>", inReplyTo: null }, [{ name: "references", value: many }]).length, MAX_THREAD_KEYS);
});

test("preview: body text only, whitespace collapsed, controls removed, 200 characters at most", () => {
  assert.equal(previewOf({ searchText: "Subject here\nHello\r\n\r\n  world\t!", searchTextHeadLength: 12 }), "Hello world !");
  assert.equal(previewOf({ searchText: "only header", searchTextHeadLength: 11 }), "");
  assert.equal(previewFromText("a\u0000b\u0007c\ufeff"), "abc");
  const emoji = "😀".repeat(250);
  const cut = previewFromText(emoji);
  assert.equal(Array.from(cut).length, 200, "cut on characters, never inside a surrogate pair");
  assert.equal(previewFromText("x".repeat(199) + " yz"), "x".repeat(199));
});
