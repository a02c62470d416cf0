import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { DotStuffer } from "../../mail/dot-stuffing.js";
import { SentOctetCounter, sentOctets } from "./sent-octets.js";
import { TopLimiter } from "./top-lines.js";

/** What the client keeps of a RETR: the lines between "+OK" and ".", with stuffing removed. */
function received(message: Buffer, chunkSizes: number[] = []): Buffer {
  const stuffer = new DotStuffer();
  const parts: Buffer[] = [];
  for (const chunk of split(message, chunkSizes)) parts.push(...stuffer.push(chunk));
  parts.push(stuffer.end());
  const wire = Buffer.concat(parts).toString("latin1");
  assert.ok(wire.endsWith(".\r\n"));
  const body = wire.slice(0, -3);
  return Buffer.from(body.replace(/(^|\r\n)\./g, "$1"), "latin1");
}

function split(bytes: Buffer, sizes: number[]): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  for (const size of sizes) {
    if (at >= bytes.length) break;
    out.push(bytes.subarray(at, at + Math.max(1, size)));
    at += Math.max(1, size);
  }
  if (at < bytes.length) out.push(bytes.subarray(at));
  return out;
}

test("octets as sent: CRLF messages keep their size; bare LF, bare CR and a missing last line end add octets", () => {
  const cases: [string, number][] = [
    ["", 0],
    ["a\r\n", 3],
    ["a\nb\n", 6],
    ["a\rb\r", 6],
    ["a\r\nb", 6],
    ["a\n\r\nb\r\r\n", 10],
    [".\r\n..\r\n", 7],
  ];
  for (const [text, expected] of cases) {
    assert.equal(sentOctets(Buffer.from(text, "latin1")), expected, JSON.stringify(text));
    assert.equal(received(Buffer.from(text, "latin1")).length, expected, JSON.stringify(text));
  }
});

const messageBytes = fc
  .array(fc.oneof(fc.constantFrom("\r", "\n", "\r\n", ".", "..", "\r\n.\r\n", "a", "Subject: x"), fc.string({ maxLength: 8 })), { maxLength: 40 })
  .map((parts) => Buffer.from(parts.join(""), "latin1"));

test("property: the counted size equals what the client receives, however the bytes are chunked", () => {
  fc.assert(
    fc.property(messageBytes, fc.array(fc.integer({ min: 1, max: 7 }), { maxLength: 20 }), (message, sizes) => {
      const counter = new SentOctetCounter();
      for (const chunk of split(message, sizes)) counter.push(chunk);
      assert.equal(counter.total(), received(message, sizes).length);
    }),
  );
});

/** Reference TOP on the normalised text: header, blank line, n body lines. */
function referenceTop(message: Buffer, n: number): string {
  const lines = received(message).toString("latin1").split("\r\n");
  lines.pop();
  const blank = lines.indexOf("");
  const kept = blank < 0 ? lines : lines.slice(0, blank + 1 + n);
  return kept.map((line) => line + "\r\n").join("");
}

test("TOP sends the header, the blank line and n body lines", () => {
  const message = Buffer.from("Subject: a\r\nFrom: b\r\n\r\none\r\ntwo\r\nthree\r\n", "latin1");
  const top = (n: number) => received(new TopLimiter(n).push(message)).toString("latin1");
  assert.equal(top(0), "Subject: a\r\nFrom: b\r\n\r\n");
  assert.equal(top(2), "Subject: a\r\nFrom: b\r\n\r\none\r\ntwo\r\n");
  assert.equal(top(99), message.toString("latin1"));
  assert.equal(received(new TopLimiter(1).push(Buffer.from("H: x\n\nbody\nmore\n"))).toString(), "H: x\r\n\r\nbody\r\n");
});

test("property: TOP over any chunking equals TOP over the normalised text", () => {
  fc.assert(
    fc.property(messageBytes, fc.nat({ max: 6 }), fc.array(fc.integer({ min: 1, max: 7 }), { maxLength: 20 }), (message, n, sizes) => {
      const limiter = new TopLimiter(n);
      const kept: Buffer[] = [];
      for (const chunk of split(message, sizes)) {
        if (limiter.done) break;
        kept.push(limiter.push(chunk));
      }
      assert.equal(received(Buffer.concat(kept)).toString("latin1"), referenceTop(message, n));
    }),
  );
});
