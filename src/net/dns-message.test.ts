// DNS messages: the query we send (flags, EDNS), answers parsed field by field (compression,
// TLSA, TXT, AAAA), and hostile input: random bytes, mutated real answers, compression loops and
// lengths past the end never throw out of parseResponse.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { DNS_TYPES, encodeName, encodeQuery, parseResponse } from "./dns-message.js";

/** A response to `encodeQuery(id, name, type)` with the given answer records (already encoded). */
function response(id: number, name: string, type: number, flags: number, answers: Buffer[]): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(flags, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  const question = Buffer.concat([encodeName(name), Buffer.from([type >> 8, type & 0xff, 0, 1])]);
  return Buffer.concat([header, question, ...answers]);
}

/** One record whose owner is a pointer to the question name (offset 12). */
function record(type: number, rdata: Buffer, owner: Buffer = Buffer.from([0xc0, 12])): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(type, 0);
  fixed.writeUInt16BE(1, 2);
  fixed.writeUInt32BE(300, 4);
  fixed.writeUInt16BE(rdata.length, 8);
  return Buffer.concat([owner, fixed, rdata]);
}

test("a query asks recursion and the AD bit, with an EDNS OPT record of 1232 octets", () => {
  const query = encodeQuery(0x1234, "_25._tcp.mx.example.org.", DNS_TYPES.TLSA);
  assert.equal(query.readUInt16BE(0), 0x1234);
  assert.equal(query.readUInt16BE(2), 0x0120);
  assert.deepEqual([query.readUInt16BE(4), query.readUInt16BE(6), query.readUInt16BE(8), query.readUInt16BE(10)], [1, 0, 0, 1]);
  assert.equal(query.subarray(12, 12 + 25).toString("latin1"), "\x03_25\x04_tcp\x02mx\x07example\x03org\x00");
  assert.equal(query.readUInt16BE(37), 52);
  const opt = query.subarray(41);
  assert.deepEqual([...opt.subarray(0, 5)], [0, 0, 41, 0x04, 0xd0]);
});

test("names that cannot be DNS names are refused before anything is sent", () => {
  assert.throws(() => encodeName("a..b"), RangeError);
  assert.throws(() => encodeName(`${"x".repeat(64)}.org`), RangeError);
  assert.throws(() => encodeName(Array.from({ length: 130 }, () => "ab").join(".")), RangeError);
  assert.throws(() => encodeName("sp ace.org"), RangeError);
  assert.deepEqual([...encodeName(".")], [0]);
});

test("an answer: header bits, CNAME chain, MX with a compressed exchange, TLSA, TXT, A and AAAA", () => {
  const mx = Buffer.concat([Buffer.from([0, 10]), Buffer.from([2, 0x6d, 0x78]), Buffer.from([0xc0, 12])]);
  const tlsa = Buffer.concat([Buffer.from([3, 1, 1]), Buffer.alloc(32, 0xab)]);
  const txt = Buffer.concat([Buffer.from([5]), Buffer.from("v=STS"), Buffer.from([3]), Buffer.from("v1;")]);
  const aaaa = Buffer.from("20010db8000000000000000000000001", "hex");
  const bytes = response(7, "Example.ORG", 15, 0x81a0, [
    record(15, mx),
    record(52, tlsa),
    record(16, txt),
    record(1, Buffer.from([192, 0, 2, 1])),
    record(28, aaaa),
    record(5, Buffer.from([0xc0, 12])),
  ]);
  const parsed = parseResponse(bytes);
  assert.ok(parsed.ok, !parsed.ok ? parsed.error : "");
  const message = parsed.message;
  assert.equal(message.id, 7);
  assert.ok(message.qr && message.rd && message.ra && message.ad && !message.tc && !message.aa);
  assert.equal(message.rcode, 0);
  assert.deepEqual(message.question, { name: "example.org", type: 15, class: 1 });
  assert.deepEqual(
    message.answers.map((r) => r.data),
    [
      { type: "MX", preference: 10, exchange: "mx.example.org" },
      { type: "TLSA", tlsa: { usage: 3, selector: 1, matchingType: 1, data: Buffer.alloc(32, 0xab) } },
      { type: "TXT", strings: ["v=STS", "v1;"] },
      { type: "A", address: "192.0.2.1" },
      { type: "AAAA", address: "2001:db8::1" },
      { type: "CNAME", target: "example.org" },
    ],
  );
  assert.equal(message.answers[0]!.ttl, 300);
});

test("SERVFAIL and NXDOMAIN come through as RCODEs; an OPT record's extended RCODE bits are added", () => {
  const servfail = parseResponse(response(1, "a.test", 1, 0x8182, []));
  assert.ok(servfail.ok && servfail.message.rcode === 2);
  const opt = Buffer.from([0, 0, 41, 4, 0xd0, 1, 0, 0, 0, 0, 0]);
  const withOpt = response(1, "a.test", 1, 0x8180, []);
  withOpt.writeUInt16BE(1, 10);
  const extended = parseResponse(Buffer.concat([withOpt, opt]));
  assert.ok(extended.ok && extended.message.rcode === 16, "BADVERS (16) = extended 1 << 4 | 0");
});

test("malformed answers are values, not exceptions: loops, forward pointers, short records, bad lengths", () => {
  const cases: [string, Buffer][] = [
    ["empty", Buffer.alloc(0)],
    ["short header", Buffer.alloc(11)],
    ["pointer to itself", response(1, "a.test", 1, 0x8180, [record(1, Buffer.from([1, 2, 3, 4]), Buffer.from([0xc0, 12 + 8 + 4]))])],
    ["forward pointer", response(1, "a.test", 1, 0x8180, [record(1, Buffer.from([1, 2, 3, 4]), Buffer.from([0xc0, 200]))])],
    ["A of 3 octets", response(1, "a.test", 1, 0x8180, [record(1, Buffer.from([1, 2, 3]))])],
    ["AAAA of 4 octets", response(1, "a.test", 28, 0x8180, [record(28, Buffer.from([1, 2, 3, 4]))])],
    ["TLSA of 2 octets", response(1, "a.test", 52, 0x8180, [record(52, Buffer.from([3, 1]))])],
    ["TXT string past its end", response(1, "a.test", 16, 0x8180, [record(16, Buffer.from([9, 0x61]))])],
    ["MX name past its length", response(1, "a.test", 15, 0x8180, [record(15, Buffer.from([0, 1, 3, 0x61]))])],
    ["reserved label type", response(1, "a.test", 1, 0x8180, [record(1, Buffer.from([1, 2, 3, 4]), Buffer.from([0x80, 0]))])],
    ["rdlength past the end", response(1, "a.test", 1, 0x8180, [record(1, Buffer.from([1, 2, 3, 4])).subarray(0, 14)])],
  ];
  for (const [what, bytes] of cases) {
    const parsed = parseResponse(bytes);
    assert.equal(parsed.ok, false, what);
  }
  // Two questions, and a record count far above what 512 octets could hold.
  const twoQuestions = response(1, "a.test", 1, 0x8180, []);
  twoQuestions.writeUInt16BE(2, 4);
  assert.equal(parseResponse(twoQuestions).ok, false);
  const huge = response(1, "a.test", 1, 0x8180, []);
  huge.writeUInt16BE(0xffff, 6);
  assert.equal(parseResponse(huge).ok, false);
});

test("property: random bytes never throw out of parseResponse", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 600 }), (bytes) => {
      const parsed = parseResponse(bytes);
      assert.equal(typeof parsed.ok, "boolean");
    }),
    { numRuns: 5000 },
  );
});

test("property: a real answer with random octets overwritten or cut short never throws", () => {
  const tlsa = Buffer.concat([Buffer.from([3, 1, 1]), Buffer.alloc(32, 0xab)]);
  const mx = Buffer.concat([Buffer.from([0, 10]), Buffer.from([2, 0x6d, 0x78]), Buffer.from([0xc0, 12])]);
  const base = response(9, "_25._tcp.mx.example.org", 52, 0x81a0, [record(52, tlsa), record(15, mx), record(5, Buffer.from([0xc0, 12]))]);
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), fc.nat(base.length), (edits, cut) => {
      const bytes = Buffer.from(base);
      for (const [at, value] of edits) bytes[at] = value;
      const parsed = parseResponse(bytes.subarray(0, cut));
      if (parsed.ok) assert.ok(Array.isArray(parsed.message.answers));
    }),
    { numRuns: 5000 },
  );
});
