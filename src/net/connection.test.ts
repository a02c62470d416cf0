import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, createServer, type AddressInfo, type Socket } from "node:net";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { connect as tlsConnect } from "node:tls";
import { createMemoryLogger, silentLogger, type Logger } from "../observability/log.js";
import { Connection, ConnectionClosedError } from "./connection.js";
import { TlsContextProvider } from "./tls-context.js";

/** A connected pair: our Connection on the server side and a raw client socket. */
async function pair(options: { log?: Logger } = {}): Promise<{ connection: Connection; client: Socket; stop: () => void }> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const accepted = once(server, "connection") as Promise<[Socket]>;
  const client = connect({ host: "127.0.0.1", port: (server.address() as AddressInfo).port });
  const [socket] = await accepted;
  await once(client, "connect");
  const connection = new Connection(socket, { log: options.log ?? silentLogger, closeLingerMs: 300 });
  return {
    connection,
    client,
    stop: () => {
      client.destroy();
      connection.destroy();
      server.close();
    },
  };
}

test("reads chunks in order, counts bytes, and returns null when the peer ends", async () => {
  const { connection, client, stop } = await pair();
  try {
    assert.match(connection.id, /^[A-Za-z0-9_-]{8}$/);
    assert.equal(connection.remoteAddress, "127.0.0.1");
    assert.ok(connection.isLoopback);
    assert.equal(connection.isTls, false);
    assert.equal(connection.tlsDetails, null);
    client.end("hello world");
    const chunks: Buffer[] = [];
    for await (const chunk of connection) chunks.push(chunk);
    assert.equal(Buffer.concat(chunks).toString(), "hello world");
    assert.equal(connection.bytesIn, 11);
    assert.equal(await connection.read(), null);
  } finally {
    stop();
  }
});

test("write waits for drain when the peer does not read, and fails once closed", async () => {
  const { connection, client, stop } = await pair();
  try {
    client.pause();
    const big = Buffer.alloc(1024 * 1024, 0x61);
    let settled = false;
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 32 && !settled; i++) writes.push(connection.write(big));
    const last = writes[writes.length - 1] as Promise<void>;
    void last.then(() => (settled = true), () => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(settled, false, "back-pressure holds the write until the peer reads");
    let received = 0;
    client.on("data", (chunk: Buffer) => (received += chunk.length));
    client.resume();
    await last;
    assert.equal(connection.bytesOut, writes.length * big.length);
    connection.destroy();
    await connection.closed;
    await assert.rejects(connection.write("x"), ConnectionClosedError);
    assert.ok(received > 0);
  } finally {
    stop();
  }
});

test("the idle deadline fires once, is pushed back by input, and can be cleared", async () => {
  const { connection, client, stop } = await pair();
  try {
    let fired = 0;
    const started = Date.now();
    connection.setIdleDeadline(120, () => fired++);
    await new Promise((resolve) => setTimeout(resolve, 80));
    client.write("keepalive");
    await connection.read();
    await new Promise((resolve) => setTimeout(resolve, 80));
    assert.equal(fired, 0, "input restarted the wait");
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(fired, 1);
    assert.ok(Date.now() - started >= 190);
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.equal(fired, 1, "fires only once");
    connection.setIdleDeadline(50, () => fired++);
    connection.setIdleDeadline(null);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(fired, 1, "cleared");
  } finally {
    stop();
  }
});

test("close flushes what was written, then the peer sees the end", async () => {
  const { connection, client, stop } = await pair();
  try {
    const received: Buffer[] = [];
    client.on("data", (chunk: Buffer) => received.push(chunk));
    await connection.write("221 bye\r\n");
    await connection.close();
    assert.ok(connection.isClosed);
    assert.equal(Buffer.concat(received).toString(), "221 bye\r\n");
  } finally {
    stop();
  }
});

test("a failed STARTTLS handshake destroys the connection and throws", async () => {
  const { connection, client, stop } = await pair();
  const { createSecureContext } = await import("node:tls");
  try {
    client.write("not a client hello\r\n\r\n");
    await assert.rejects(connection.upgradeToTls(createSecureContext({}), 500), { name: "TlsHandshakeError" });
    await connection.closed;
    assert.ok(connection.isClosed);
  } finally {
    stop();
  }
});

test("a handshake that arrived before upgradeToTls was called is not lost", async () => {
  const dir = await mkdtemp(join(tmpdir(), "mailroom-conn-"));
  const { connection, client, stop } = await pair();
  try {
    const provider = await TlsContextProvider.open({ certFile: null, keyFile: null, dataDir: dir, hostname: "localhost", minVersion: "TLSv1.2", log: silentLogger });
    // The client starts TLS at once; its ClientHello waits unread in the connection's queue.
    const secure = tlsConnect({ socket: client, rejectUnauthorized: false });
    const secured = once(secure, "secureConnect");
    await new Promise((resolve) => setTimeout(resolve, 100));
    await connection.upgradeToTls(provider.current(), 2000);
    await secured;
    assert.ok(connection.isTls);
    assert.match(connection.tlsDetails?.protocol ?? "", /^TLSv1\.[23]$/);
    secure.write("over tls");
    assert.equal((await connection.read())?.toString(), "over tls");
    await connection.write("reply");
    const [chunk] = (await once(secure, "data")) as [Buffer];
    assert.equal(chunk.toString(), "reply");
    secure.destroy();
  } finally {
    stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test("the logger carries the connection id", async () => {
  const log = createMemoryLogger();
  const { connection, stop } = await pair({ log });
  try {
    connection.log.info("hello");
    assert.equal(log.records[0]?.["conn"], connection.id);
    assert.equal(log.records[0]?.["remote"], "127.0.0.1");
  } finally {
    stop();
  }
});
