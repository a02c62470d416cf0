import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, connect, type AddressInfo, type Socket } from "node:net";
import { test } from "node:test";
import fc from "fast-check";
import { parseProxyHeader, readProxyHeader, startsWithProxySignature, ProxyHeaderError, V1_MAX_LENGTH } from "./proxy-protocol.js";

const SIGNATURE = Buffer.from("0d0a0d0a000d0a515549540a", "hex");

/** A v2 header: version/command byte, family/transport byte, address block, TLVs. */
function v2(command: number, familyTransport: number, addresses: Buffer, tlvs: Buffer = Buffer.alloc(0)): Buffer {
  const length = Buffer.alloc(2);
  length.writeUInt16BE(addresses.length + tlvs.length);
  return Buffer.concat([SIGNATURE, Buffer.from([command, familyTransport]), length, addresses, tlvs]);
}

function tlv(type: number, value: Buffer): Buffer {
  const head = Buffer.from([type, 0, 0]);
  head.writeUInt16BE(value.length, 1);
  return Buffer.concat([head, value]);
}

const inet4 = Buffer.from([192, 0, 2, 10, 198, 51, 100, 1, 0xc3, 0x50, 0x00, 0x19]); // 192.0.2.10:50000 -> 198.51.100.1:25

test("v1: TCP4, TCP6 and UNKNOWN; the bytes after the CRLF are not part of the header", () => {
  const tcp4 = parseProxyHeader(Buffer.from("PROXY TCP4 192.0.2.10 198.51.100.1 50000 25\r\nEHLO x\r\n"));
  assert.equal(tcp4.status, "complete");
  assert.ok(tcp4.status === "complete");
  assert.deepEqual(tcp4.header.source, { address: "192.0.2.10", port: 50000 });
  assert.deepEqual(tcp4.header.destination, { address: "198.51.100.1", port: 25 });
  assert.equal(tcp4.consumed, "PROXY TCP4 192.0.2.10 198.51.100.1 50000 25\r\n".length);

  const tcp6 = parseProxyHeader(Buffer.from("PROXY TCP6 2001:DB8:0:0:0:0:0:1 2001:db8::2 1 65535\r\n"));
  assert.ok(tcp6.status === "complete");
  assert.deepEqual(tcp6.header.source, { address: "2001:db8::1", port: 1 }, "IPv6 is compressed to one spelling (RFC 5952)");
  const mapped = parseProxyHeader(Buffer.from("PROXY TCP6 ::ffff:192.0.2.7 ::1 1000 143\r\n"));
  assert.ok(mapped.status === "complete");
  assert.equal(mapped.header.source?.address, "192.0.2.7", "an IPv4-mapped client reads as IPv4, as sockets show it");

  const unknown = parseProxyHeader(Buffer.from("PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n"));
  assert.ok(unknown.status === "complete");
  assert.equal(unknown.header.source, null);
  assert.ok(parseProxyHeader(Buffer.from("PROXY UNKNOWN\r\n")).status === "complete");
});

test("v1: incomplete until the CRLF, invalid past 107 bytes or on any malformed field", () => {
  const line = "PROXY TCP4 192.0.2.10 198.51.100.1 50000 25\r\n";
  for (let cut = 0; cut < line.length; cut++) assert.equal(parseProxyHeader(Buffer.from(line.slice(0, cut))).status, "incomplete", `cut at ${cut}`);
  assert.equal(parseProxyHeader(Buffer.from(`PROXY UNKNOWN ${"x".repeat(V1_MAX_LENGTH)}`)).status, "invalid");
  // Exactly 107 bytes with the CRLF is the longest valid line.
  const longest = `PROXY UNKNOWN ${"x".repeat(V1_MAX_LENGTH - 16)}\r\n`;
  assert.equal(longest.length, V1_MAX_LENGTH);
  assert.equal(parseProxyHeader(Buffer.from(longest)).status, "complete");
  for (const bad of [
    "PROXY TCP4 192.0.2.10 198.51.100.1 50000 25\n",
    "PROXY TCP4 192.0.2.10 198.51.100.1 50000 25\rX",
    "PROXY TCP4  192.0.2.10 198.51.100.1 50000 25\r\n",
    "PROXY TCP4 192.0.2.10 198.51.100.1 50000\r\n",
    "PROXY TCP4 192.0.2.10 198.51.100.1 50000 25 extra\r\n",
    "PROXY TCP4 2001:db8::1 198.51.100.1 50000 25\r\n",
    "PROXY TCP6 192.0.2.10 2001:db8::2 50000 25\r\n",
    "PROXY TCP6 fe80::1%eth0 2001:db8::2 50000 25\r\n",
    "PROXY TCP4 192.0.2.256 198.51.100.1 50000 25\r\n",
    "PROXY TCP4 192.0.2.10 198.51.100.1 65536 25\r\n",
    "PROXY TCP4 192.0.2.10 198.51.100.1 050000 25\r\n",
    "PROXY TCP4 192.0.2.10 198.51.100.1 -1 25\r\n",
    "PROXY UDP4 192.0.2.10 198.51.100.1 50000 25\r\n",
    "PROXY TCP4 192.0.2.10 198.51.100.1 50000 2\u00e95\r\n",
    "proxy TCP4 192.0.2.10 198.51.100.1 50000 25\r\n",
    "EHLO client.example\r\n",
  ]) {
    assert.equal(parseProxyHeader(Buffer.from(bad, "latin1")).status, "invalid", JSON.stringify(bad));
  }
});

test("v2: PROXY over IPv4 and IPv6, TLVs skipped, LOCAL keeps the socket's peer", () => {
  const four = parseProxyHeader(Buffer.concat([v2(0x21, 0x11, inet4), Buffer.from("EHLO")]));
  assert.ok(four.status === "complete");
  assert.deepEqual(four.header.source, { address: "192.0.2.10", port: 50000 });
  assert.deepEqual(four.header.destination, { address: "198.51.100.1", port: 25 });
  assert.equal(four.consumed, 16 + 12);

  const six = Buffer.alloc(36);
  Buffer.from("20010db8000000000000000000000001", "hex").copy(six, 0);
  Buffer.from("20010db8000000000000000000000002", "hex").copy(six, 16);
  six.writeUInt16BE(40000, 32);
  six.writeUInt16BE(993, 34);
  const tlvs = Buffer.concat([tlv(0x04, Buffer.alloc(0)), tlv(0x20, Buffer.from([0x07, 0, 0, 0, 0])), tlv(0x01, Buffer.from("imap"))]);
  const sixParsed = parseProxyHeader(v2(0x21, 0x21, six, tlvs));
  assert.ok(sixParsed.status === "complete");
  assert.deepEqual(sixParsed.header.source, { address: "2001:db8::1", port: 40000 });
  assert.equal(sixParsed.header.tlvCount, 3);
  assert.equal(sixParsed.consumed, 16 + 36 + tlvs.length);

  const local = parseProxyHeader(v2(0x20, 0x00, Buffer.alloc(0)));
  assert.ok(local.status === "complete");
  assert.equal(local.header.command, "local");
  assert.equal(local.header.source, null);
  // LOCAL with an address block: the block is skipped, not believed.
  const localWithAddresses = parseProxyHeader(v2(0x20, 0x11, inet4));
  assert.ok(localWithAddresses.status === "complete" && localWithAddresses.header.source === null && localWithAddresses.consumed === 28);

  const unspec = parseProxyHeader(v2(0x21, 0x00, Buffer.alloc(0)));
  assert.ok(unspec.status === "complete" && unspec.header.source === null);
  const unix = parseProxyHeader(v2(0x21, 0x31, Buffer.alloc(216)));
  assert.ok(unix.status === "complete" && unix.header.source === null);
});

test("v2: incomplete while bytes are missing, invalid on a wrong version, command, family, length or TLV", () => {
  const whole = v2(0x21, 0x11, inet4, tlv(0x05, Buffer.from("id")));
  for (let cut = 0; cut < whole.length; cut++) assert.equal(parseProxyHeader(whole.subarray(0, cut)).status, "incomplete", `cut at ${cut}`);
  for (const [name, bad] of [
    ["version 1", v2(0x11, 0x11, inet4)],
    ["version 3", v2(0x31, 0x11, inet4)],
    ["command 2", v2(0x22, 0x11, inet4)],
    ["family 4", v2(0x21, 0x41, inet4)],
    ["transport 3", v2(0x21, 0x13, inet4)],
    ["datagram", v2(0x21, 0x12, inet4)],
    ["short IPv4 block", v2(0x21, 0x11, inet4.subarray(0, 11))],
    ["short IPv6 block", v2(0x21, 0x21, Buffer.alloc(35))],
    ["TLV overruns", v2(0x21, 0x11, inet4, Buffer.from([0x01, 0x00, 0x05, 0x61]))],
    ["TLV header cut", v2(0x21, 0x11, inet4, Buffer.from([0x01, 0x00]))],
  ] as const) {
    assert.equal(parseProxyHeader(bad).status, "invalid", name);
  }
});

test("signature sniffing: yes, no, and maybe while the bytes are still a prefix", () => {
  assert.equal(startsWithProxySignature(Buffer.from("PROXY TCP4")), "yes");
  assert.equal(startsWithProxySignature(SIGNATURE), "yes");
  assert.equal(startsWithProxySignature(Buffer.from("PROX")), "maybe");
  assert.equal(startsWithProxySignature(SIGNATURE.subarray(0, 5)), "maybe");
  assert.equal(startsWithProxySignature(Buffer.alloc(0)), "maybe");
  assert.equal(startsWithProxySignature(Buffer.from("EHLO x")), "no");
  assert.equal(startsWithProxySignature(Buffer.from([0x16, 0x03, 0x01])), "no", "a TLS ClientHello is not a header");
  assert.equal(startsWithProxySignature(Buffer.from("a1 LOGIN")), "no");
});

test("hostile input: the parser never throws, never claims more bytes than given, and a prefix of a complete header is never invalid", () => {
  const arbitraryHeader = fc.oneof(
    fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
    fc.tuple(fc.uint8Array({ maxLength: 120 }), fc.boolean()).map(([bytes, crlf]) => Buffer.concat([Buffer.from("PROXY "), Buffer.from(bytes), Buffer.from(crlf ? "\r\n" : "")])),
    fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 0xffff })).map(([command, family, body, length]) => {
      const header = Buffer.concat([SIGNATURE, Buffer.from([command, family, length >> 8, length & 0xff]), Buffer.from(body)]);
      return header;
    }),
  );
  fc.assert(
    fc.property(arbitraryHeader, (bytes) => {
      const parsed = parseProxyHeader(bytes);
      if (parsed.status === "complete") {
        assert.ok(parsed.consumed > 0 && parsed.consumed <= bytes.length);
        if (parsed.header.source !== null) {
          assert.ok(parsed.header.source.port >= 0 && parsed.header.source.port <= 65_535);
          assert.ok(!parsed.header.source.address.includes(" "));
        }
        // Every strict prefix of a complete header is incomplete, never invalid: a header split
        // over TCP segments must not be refused.
        for (const cut of [0, 1, Math.floor(parsed.consumed / 2), parsed.consumed - 1]) {
          assert.equal(parseProxyHeader(bytes.subarray(0, cut)).status, "incomplete");
        }
      }
      if (parsed.status === "incomplete") assert.ok(bytes.length < 16 + 0xffff, "incomplete only while the limit is not reached");
    }),
    { numRuns: 3000 },
  );
});

async function pair(): Promise<{ client: Socket; server: Socket; close(): void }> {
  const listener = createServer();
  listener.listen(0, "127.0.0.1");
  await once(listener, "listening");
  const client = connect((listener.address() as AddressInfo).port, "127.0.0.1");
  const [server] = (await once(listener, "connection")) as [Socket];
  return { client, server, close: () => (client.destroy(), server.destroy(), listener.close()) };
}

test("readProxyHeader: a header split over writes, with the client's first bytes after it put back", async () => {
  const { client, server, close } = await pair();
  try {
    const reading = readProxyHeader(server, 2000);
    client.write("PROXY TCP4 203.0.113.9 ");
    await new Promise((resolve) => setTimeout(resolve, 20));
    client.write("127.0.0.1 4242 25\r\nEHLO client\r\n");
    const header = await reading;
    assert.deepEqual(header.source, { address: "203.0.113.9", port: 4242 });
    server.resume();
    const [rest] = (await once(server, "data")) as [Buffer];
    assert.equal(rest.toString(), "EHLO client\r\n");
  } finally {
    close();
  }
});

test("readProxyHeader: timeout, invalid header and early close are ProxyHeaderErrors of their kind", async () => {
  {
    const { close, server } = await pair();
    await assert.rejects(readProxyHeader(server, 100), (error) => error instanceof ProxyHeaderError && error.kind === "timeout");
    close();
  }
  {
    const { client, server, close } = await pair();
    const reading = readProxyHeader(server, 2000);
    client.write("EHLO me\r\n");
    await assert.rejects(reading, (error) => error instanceof ProxyHeaderError && error.kind === "invalid");
    close();
  }
  {
    const { client, server, close } = await pair();
    const reading = readProxyHeader(server, 2000);
    client.end("PROXY TCP4");
    await assert.rejects(reading, (error) => error instanceof ProxyHeaderError && error.kind === "closed");
    close();
  }
});
