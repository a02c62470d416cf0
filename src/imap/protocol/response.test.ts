import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Readable } from "node:stream";
import { encodeValue, LiteralSizeMismatchError, statusLine, writeResponse, writeResponses } from "./response.js";
import { atom, list, literal, NIL, num, str, streamedLiteral } from "./response-value.js";

async function wire(values: Parameters<typeof writeResponse>[2], writes: Buffer[] = []): Promise<string> {
  await writeResponse({ write: async (b) => void writes.push(b) }, "* ", values);
  return Buffer.concat(writes).toString("latin1");
}

describe("response encoder", () => {
  it("quotes safe strings, escapes quotes and backslashes, and falls back to a literal", () => {
    assert.equal(encodeValue(str('a "b" \\c')).toString(), '"a \\"b\\" \\\\c"');
    assert.equal(encodeValue(str("line\r\nbreak")).toString(), "{11}\r\nline\r\nbreak");
    assert.equal(encodeValue(str("Grüße")).toString("latin1"), `{7}\r\n${Buffer.from("Grüße").toString("latin1")}`);
    assert.equal(encodeValue(list([atom("\\Seen"), num(7n), NIL, literal(Buffer.from("xy"))])).toString(), "(\\Seen 7 NIL {2}\r\nxy)");
  });
  it("never writes NUL in a string (RFC 9051 §4.3): a NUL in a header value becomes U+FFFD (found by the fuzz campaign)", () => {
    assert.equal(encodeValue(str("a\0b")).toString("utf8"), "{5}\r\na\ufffdb");
    assert.equal(encodeValue(str(Buffer.from([0x3c, 0, 0x3e]))).toString("utf8"), "{5}\r\n<\ufffd>");
  });
  it("streams a literal inside a list and keeps what follows it in order", async () => {
    const writes: Buffer[] = [];
    const text = await wire([num(1), atom("FETCH"), list([atom("BODY[]"), streamedLiteral(6, () => Readable.from([Buffer.from("abc"), Buffer.from("def")])), atom("UID"), num(9)])], writes);
    assert.equal(text, "* 1 FETCH (BODY[] {6}\r\nabcdef UID 9)\r\n");
    assert.ok(writes.length >= 3, "the stream is copied chunk by chunk, not gathered");
  });
  it("refuses a stream shorter or longer than announced", async () => {
    await assert.rejects(wire([streamedLiteral(5, () => Readable.from([Buffer.from("abc")]))]), LiteralSizeMismatchError);
    await assert.rejects(wire([streamedLiteral(2, () => Readable.from([Buffer.from("abc")]))]), LiteralSizeMismatchError);
  });
  it("writes many responses in as few writes as their streamed literals allow, in order", async () => {
    const writes: Buffer[] = [];
    const sink = { write: async (b: Buffer) => void writes.push(b) };
    await writeResponses(sink, "* ", [
      [num(1), atom("FETCH"), list([atom("FLAGS"), list([atom("\\Seen")]), atom("X"), str("Grüße")])],
      [num(2), atom("FETCH"), list([atom("BODY[]"), streamedLiteral(3, () => Readable.from([Buffer.from("abc")]))])],
      [num(3), atom("FETCH"), list([atom("UID"), num(9)])],
    ]);
    const expected = `* 1 FETCH (FLAGS (\\Seen) X {7}\r\n${Buffer.from("Grüße").toString("latin1")})\r\n* 2 FETCH (BODY[] {3}\r\nabc)\r\n* 3 FETCH (UID 9)\r\n`;
    assert.equal(Buffer.concat(writes).toString("latin1"), expected);
    // Bytes before the stream, the stream's chunk, bytes after it.
    assert.equal(writes.length, 3);
    await writeResponses(sink, "* ", []);
    assert.equal(writes.length, 3);
  });

  it("writes literal8 for binary content", () => {
    assert.equal(encodeValue({ kind: "literal", size: 1, bytes: Buffer.from([0]), binary: true }).toString("latin1"), "~{1}\r\n\x00");
  });
  it("status lines carry the code in brackets and never a line break from the text", () => {
    assert.equal(statusLine("a1", "NO", "TRYCREATE", "no\r\nsuch").toString(), "a1 NO [TRYCREATE] no such\r\n");
  });
});
