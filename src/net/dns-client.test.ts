// The DNSSEC stub client against scripted UDP/TCP servers on loopback: the AD bit comes through,
// answers with the wrong id or garbage are ignored while the real one is awaited, truncation
// moves to TCP, a silent server is retried and then reported, SERVFAIL is a failure.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { createServer, type Server } from "node:net";
import { once } from "node:events";
import { canonicalAddress, createDnssecClient, parseServerAddress } from "./dns-client.js";
import { encodeName } from "./dns-message.js";

type Reply = (query: Buffer) => Buffer[] | "silent";

/** An answer to `query` (its id and question copied) with the flags and A records given. */
function answer(query: Buffer, flags: number, addresses: string[], rcode = 0): Buffer {
  const questionEnd = 12 + query.subarray(12).indexOf(0) + 1 + 4;
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2);
  header.writeUInt16BE(flags | rcode, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(addresses.length, 6);
  const records = addresses.map((address) => Buffer.concat([Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4]), Buffer.from(address.split(".").map(Number))]));
  return Buffer.concat([header, query.subarray(12, questionEnd), ...records]);
}

async function udpServer(reply: Reply): Promise<{ socket: UdpSocket; port: number; queries: number }> {
  const socket = createSocket("udp4");
  const state = { socket, port: 0, queries: 0 };
  socket.on("message", (query, from) => {
    state.queries++;
    const replies = reply(query);
    if (replies === "silent") return;
    for (const bytes of replies) socket.send(bytes, from.port, from.address);
  });
  socket.bind(0, "127.0.0.1");
  await once(socket, "listening");
  state.port = socket.address().port;
  return state;
}

test("server addresses: ip, ip:port, [v6]:port; names are refused", () => {
  assert.deepEqual(parseServerAddress("127.0.0.1"), { host: "127.0.0.1", port: 53 });
  assert.deepEqual(parseServerAddress("127.0.0.1:5353"), { host: "127.0.0.1", port: 5353 });
  assert.deepEqual(parseServerAddress("[::1]:54"), { host: "::1", port: 54 });
  assert.deepEqual(parseServerAddress("::1"), { host: "::1", port: 53 });
  assert.equal(parseServerAddress("resolver.example"), null);
  assert.equal(parseServerAddress("127.0.0.1:0"), null);
});

test("a resolver address written in a long IPv6 form still matches the address its answers come from", () => {
  assert.equal(canonicalAddress("0:0:0:0:0:0:0:1"), "::1");
  assert.equal(canonicalAddress("::1"), "::1");
  assert.equal(canonicalAddress("2001:DB8:0:0:0:0:0:53"), "2001:db8::53");
  assert.equal(canonicalAddress("127.0.0.1"), "127.0.0.1");
});

test("the AD bit says secure; garbage and answers with another id are ignored until the real one", async () => {
  const server = await udpServer((query) => {
    const wrongId = answer(query, 0x81a0, ["6.6.6.6"]);
    wrongId.writeUInt16BE((query.readUInt16BE(0) + 1) & 0xffff, 0);
    return [Buffer.from("garbage"), wrongId, answer(query, 0x81a0, ["192.0.2.7"])];
  });
  try {
    const query = createDnssecClient({ server: { host: "127.0.0.1", port: server.port }, timeoutMs: 2000 });
    assert.deepEqual(await query("MX.Example.Test.", "A"), { kind: "answer", rcode: "NOERROR", secure: true, records: [{ type: "A", address: "192.0.2.7" }], canonicalName: "mx.example.test" });
  } finally {
    server.socket.close();
  }
});

test("an unvalidated answer is insecure; NXDOMAIN and SERVFAIL are told apart", async () => {
  const server = await udpServer((query) => {
    const name = query.subarray(12, 12 + query.subarray(12).indexOf(0) + 1);
    if (name.equals(encodeName("plain.test"))) return [answer(query, 0x8180, ["192.0.2.8"])];
    if (name.equals(encodeName("gone.test"))) return [answer(query, 0x81a0, [], 3)];
    return [answer(query, 0x8180, [], 2)];
  });
  try {
    const query = createDnssecClient({ server: { host: "127.0.0.1", port: server.port }, timeoutMs: 2000 });
    const plain = await query("plain.test", "A");
    assert.ok(plain.kind === "answer" && !plain.secure && plain.records.length === 1);
    const gone = await query("gone.test", "A");
    assert.ok(gone.kind === "answer" && gone.rcode === "NXDOMAIN" && gone.secure);
    const bogus = await query("bogus.test", "A");
    assert.ok(bogus.kind === "failed" && /SERVFAIL/.test(bogus.reason));
  } finally {
    server.socket.close();
  }
});

test("a silent server is asked again, then the failure names it", async () => {
  const server = await udpServer(() => "silent");
  try {
    const query = createDnssecClient({ server: { host: "127.0.0.1", port: server.port }, timeoutMs: 200, attempts: 3 });
    const result = await query("quiet.test", "TLSA");
    assert.ok(result.kind === "failed");
    assert.match(result.reason, /TLSA quiet\.test: no answer within 200 ms from 127\.0\.0\.1:\d+ after 3 tries/);
    assert.equal(server.queries, 3);
  } finally {
    server.socket.close();
  }
});

test("a truncated UDP answer is asked again over TCP on the same port", async () => {
  const tcp: Server = createServer((socket) => {
    let buffered = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length < 2 || buffered.length < 2 + buffered.readUInt16BE(0)) return;
      const reply = answer(buffered.subarray(2), 0x81a0, ["192.0.2.1", "192.0.2.2"]);
      const length = Buffer.alloc(2);
      length.writeUInt16BE(reply.length, 0);
      // In two writes, to exercise reassembly.
      socket.write(Buffer.concat([length, reply.subarray(0, 5)]));
      setTimeout(() => socket.end(reply.subarray(5)), 20);
    });
  });
  tcp.listen(0, "127.0.0.1");
  await once(tcp, "listening");
  const port = (tcp.address() as { port: number }).port;
  const udp = createSocket("udp4");
  udp.on("message", (query, from) => udp.send(answer(query, 0x83a0, []), from.port, from.address));
  udp.bind(port, "127.0.0.1");
  await once(udp, "listening");
  try {
    const query = createDnssecClient({ server: { host: "127.0.0.1", port }, timeoutMs: 2000 });
    const result = await query("big.test", "A");
    assert.ok(result.kind === "answer");
    assert.deepEqual(
      result.records.map((r) => (r.type === "A" ? r.address : "")),
      ["192.0.2.1", "192.0.2.2"],
    );
  } finally {
    udp.close();
    tcp.close();
  }
});

test("a name that cannot be asked is a failure, not an exception", async () => {
  const query = createDnssecClient({ server: { host: "127.0.0.1", port: 9 }, timeoutMs: 100, attempts: 1 });
  const result = await query(`${"x".repeat(70)}.test`, "A");
  assert.ok(result.kind === "failed" && /not a DNS name/.test(result.reason));
});
