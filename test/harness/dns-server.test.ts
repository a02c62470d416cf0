// The loopback DNS server, checked twice: its wire format by decoding its answers here, and its
// behaviour through node's own resolver (c-ares), which is what Mailroom's configured resolver is.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createSystemResolver } from "../../src/mail-auth/index.js";
import { decodeName, decodeQuery, decodeResponse, encodeName, encodeQuery, RCODE, RR_TYPES, startDnsServer } from "./dns-server.js";

const LONG_KEY = "v=DKIM1; k=rsa; p=" + "A".repeat(1400);

const TABLE = {
  "b.test": { MX: [{ exchange: "mx2.b.test", priority: 20 }, { exchange: "mx.b.test", priority: 10 }], TXT: [["v=spf1 ip4:127.0.0.1 -all"]] },
  "mx.b.test": { A: ["127.0.0.1", "127.0.0.2"], AAAA: ["::1", "2001:db8::5:1"] },
  "sel._domainkey.b.test": { TXT: [[LONG_KEY]] },
  "1.0.0.127.in-addr.arpa": { PTR: ["mx.b.test"] },
  "nomail.test": { MX: [{ exchange: "", priority: 0 }] },
  "broken.test": { MX: { fail: "ESERVFAIL" as const } },
};

test("names encode as length-prefixed labels and decode through compression pointers", () => {
  assert.deepEqual(encodeName("mx.b.test."), Buffer.from("\x02mx\x01b\x04test\x00", "latin1"));
  // "b.test" at 0, then "mx" + pointer to 0 at 8.
  const message = Buffer.concat([encodeName("b.test"), Buffer.from([2, 0x6d, 0x78, 0xc0, 0x00])]);
  assert.deepEqual(decodeName(message, 8), { name: "mx.b.test", end: 13 });
  assert.throws(() => decodeName(Buffer.from([0xc0, 0x00]), 0), /loop/);
  assert.throws(() => decodeName(Buffer.from([5, 0x61]), 0), /past the message/);
});

test("a query round-trips, with its EDNS payload size", () => {
  const query = decodeQuery(encodeQuery(0x1234, "B.test", RR_TYPES.MX, { ednsPayload: 1232 }));
  assert.deepEqual(query, { id: 0x1234, flags: 0x0100, question: { name: "B.test", type: RR_TYPES.MX, class: 1 }, ednsPayload: 1232 });
  assert.throws(() => decodeQuery(Buffer.alloc(5)), /header/);
});

test("answers: authoritative, NXDOMAIN and NODATA with an SOA, empty non-terminals exist, TC over 512 octets", async () => {
  const server = await startDnsServer(TABLE);
  try {
    const ask = (name: string, type: number, edns?: number) => {
      const raw = server.answer(encodeQuery(7, name, type, edns === undefined ? {} : { ednsPayload: edns }), "udp");
      assert.ok(raw);
      return decodeResponse(raw);
    };
    const mx = ask("B.TEST.", RR_TYPES.MX);
    assert.equal(mx.id, 7);
    assert.equal(mx.rcode, RCODE.NOERROR);
    assert.ok(mx.authoritative);
    assert.deepEqual(mx.answers.map((a) => [a.type, a.rdata.readUInt16BE(0), decodeName(a.rdata, 2).name]), [[15, 20, "mx2.b.test"], [15, 10, "mx.b.test"]]);
    const none = ask("nobody.test", RR_TYPES.A);
    assert.equal(none.rcode, RCODE.NXDOMAIN);
    assert.deepEqual(none.authority.map((r) => [r.name, r.type]), [["nobody.test", RR_TYPES.SOA]]);
    const nodata = ask("mx.b.test", RR_TYPES.TXT);
    assert.deepEqual([nodata.rcode, nodata.answers.length, nodata.authority.length], [RCODE.NOERROR, 0, 1]);
    assert.equal(ask("_domainkey.b.test", RR_TYPES.TXT).rcode, RCODE.NOERROR, "RFC 8020: an empty non-terminal is not NXDOMAIN");
    assert.equal(ask("broken.test", RR_TYPES.MX).rcode, RCODE.SERVFAIL);
    const big = ask("sel._domainkey.b.test", RR_TYPES.TXT);
    assert.ok(big.truncated, "over 512 octets without EDNS");
    assert.equal(big.answers.length, 0);
    const edns = ask("sel._domainkey.b.test", RR_TYPES.TXT, 4096);
    assert.ok(!edns.truncated);
    assert.equal(edns.answers[0]!.rdata[0], 255, "split into character-strings of at most 255 octets");
    const tcp = decodeResponse(server.answer(encodeQuery(8, "sel._domainkey.b.test", RR_TYPES.TXT), "tcp")!);
    assert.ok(!tcp.truncated);
    assert.equal(tcp.answers.length, 1);
  } finally {
    await server.close();
  }
});

test("node's resolver pointed at it gets every record type, NXDOMAIN/NODATA codes, and long TXT over TCP", async () => {
  const server = await startDnsServer(TABLE);
  try {
    const resolve = createSystemResolver({ timeoutMs: 3000, servers: [server.address] });
    assert.deepEqual((await resolve("b.test", "MX")).sort((a, b) => a.priority - b.priority), [{ exchange: "mx.b.test", priority: 10 }, { exchange: "mx2.b.test", priority: 20 }]);
    assert.deepEqual(await resolve("mx.b.test", "A"), ["127.0.0.1", "127.0.0.2"]);
    assert.deepEqual(await resolve("mx.b.test", "AAAA"), ["::1", "2001:db8::5:1"]);
    assert.deepEqual(await resolve("b.test", "TXT"), [["v=spf1 ip4:127.0.0.1 -all"]]);
    assert.deepEqual(await resolve("1.0.0.127.in-addr.arpa", "PTR"), ["mx.b.test"]);
    assert.equal((await resolve("sel._domainkey.b.test", "TXT"))[0]!.join(""), LONG_KEY);
    assert.deepEqual(await resolve("nomail.test", "MX"), [{ exchange: "", priority: 0 }]);
    await assert.rejects(resolve("nobody.test", "A"), { code: "ENOTFOUND" });
    await assert.rejects(resolve("mx.b.test", "MX"), { code: "ENODATA" });
    await assert.rejects(resolve("broken.test", "MX"), { code: "ESERVFAIL" });
    server.set("late.test", { A: ["127.0.0.9"] });
    assert.deepEqual(await resolve("late.test", "A"), ["127.0.0.9"]);
    assert.ok(server.log.includes("MX b.test"));
    assert.ok(server.log.includes("TXT sel._domainkey.b.test (tcp)"), "an answer over the UDP limit is fetched again over TCP");
  } finally {
    await server.close();
  }
});
