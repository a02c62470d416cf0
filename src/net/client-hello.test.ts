import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type AddressInfo, type Socket } from "node:net";
import { test } from "node:test";
import { connect } from "node:tls";
import fc from "fast-check";
import { MAX_CLIENT_HELLO_RECORD, peekClientHello } from "./client-hello.js";

/** The first bytes a real Node (OpenSSL) TLS client sends. */
async function realClientHello(options: { servername?: string; ALPNProtocols?: string[] }): Promise<Buffer> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const client = connect({ host: "127.0.0.1", port: (server.address() as AddressInfo).port, rejectUnauthorized: false, ...options });
  client.on("error", () => {});
  const [socket] = (await once(server, "connection")) as [Socket];
  const [chunk] = (await once(socket, "data")) as [Buffer];
  client.destroy();
  socket.destroy();
  server.close();
  return chunk;
}

test("a real ClientHello: SNI and ALPN read; without them, none; every cut short of the record is incomplete", async () => {
  const hello = await realClientHello({ servername: "MX.Example.org", ALPNProtocols: ["acme-tls/1", "http/1.1"] });
  assert.deepEqual(peekClientHello(hello), { status: "complete", serverName: "mx.example.org", alpn: ["acme-tls/1", "http/1.1"] });
  for (const cut of [0, 1, 4, 5, 40, hello.length - 1]) assert.equal(peekClientHello(hello.subarray(0, cut)).status, "incomplete", `cut ${cut}`);
  const bare = await realClientHello({});
  const peeked = peekClientHello(bare);
  assert.ok(peeked.status === "complete");
  assert.deepEqual(peeked.alpn, []);
});

test("not a ClientHello: plaintext, HTTP, a PROXY header, another record type", () => {
  for (const text of ["GET / HTTP/1.1\r\n", "EHLO x\r\n", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"]) assert.equal(peekClientHello(Buffer.from(text)).status, "other", text);
  assert.equal(peekClientHello(Buffer.from([0x17, 0x03, 0x03, 0x00, 0x01, 0x00])).status, "other", "application data");
  assert.equal(peekClientHello(Buffer.from([0x16, 0x03, 0x01, 0x40, 0x01])).status, "other", "a record longer than TLS allows");
  assert.equal(peekClientHello(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x01, 0x02])).status, "other", "a handshake that is not a ClientHello");
});

test("hostile records: never throws, never returns a name with spaces or control bytes, decides once the record is whole", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), fc.integer({ min: 0, max: 700 }), (body, declared) => {
      const record = Buffer.concat([Buffer.from([0x16, 0x03, 0x01, declared >> 8, declared & 0xff, 0x01]), Buffer.from(body)]);
      const peeked = peekClientHello(record);
      if (record.length >= 5 + declared) assert.notEqual(peeked.status, "incomplete");
      if (peeked.status === "complete" && peeked.serverName !== null) assert.match(peeked.serverName, /^[\x21-\x7e]+$/);
    }),
    { numRuns: 3000 },
  );
  assert.equal(MAX_CLIENT_HELLO_RECORD, 16_389);
});
