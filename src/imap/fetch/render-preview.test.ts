// FETCH PREVIEW of a message without a stored preview (RFC 8970): parsed from the first
// PREVIEW_SCAN_OCTETS of its bytes, NIL under LAZY; a stored preview is sent as it is.
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { test } from "node:test";
import type { MessageAttributes, StoredMessage, Uid } from "../../store/index.js";
import { encodeValue } from "../protocol/response.js";
import { list } from "../protocol/response-value.js";
import { PREVIEW_SCAN_OCTETS, renderFetchItems, type FetchSubject } from "./render-fetch.js";

function subject(bytes: Buffer, attributes?: MessageAttributes): FetchSubject & { reads: number[] } {
  const reads: number[] = [];
  return {
    reads,
    message: { uid: 1 as Uid, size: bytes.length } as StoredMessage,
    flags: [],
    open: (range) => {
      reads.push(range.end - range.start);
      return Readable.from([bytes.subarray(range.start, range.end)]);
    },
    utf8: false,
    ...(attributes === undefined ? {} : { attributes }),
  };
}

const wire = async (s: FetchSubject, lazy: boolean): Promise<string> => encodeValue(list(await renderFetchItems([{ kind: "preview", lazy }], s))).toString("utf8");

test("PREVIEW: computed from the bytes when not stored, NIL with LAZY, stored text as it is", async () => {
  const plain = Buffer.from("Subject: x\r\n\r\n  Hello\r\n\r\nworld  \r\n");
  assert.equal(await wire(subject(plain), false), '(PREVIEW "Hello world")');
  assert.equal(await wire(subject(plain), true), "(PREVIEW NIL)");
  const stored = { uid: 1 as Uid, emailId: "E1", threadId: "T1", saveDate: new Date(0), preview: "kept" };
  assert.equal(await wire(subject(plain, stored), true), '(PREVIEW "kept")');
});

test("PREVIEW from the bytes reads at most PREVIEW_SCAN_OCTETS of a large message", async () => {
  const big = Buffer.concat([Buffer.from("Subject: big\r\n\r\nstart of a long text "), Buffer.alloc(2 * PREVIEW_SCAN_OCTETS, "a")]);
  const s = subject(big);
  const out = await wire(s, false);
  assert.match(out, /^\(PREVIEW "start of a long text a+"\)$/);
  assert.ok(s.reads.reduce((a, b) => a + b, 0) <= PREVIEW_SCAN_OCTETS);
});
