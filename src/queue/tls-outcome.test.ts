// The plaintext fallback against a scripted server whose STARTTLS handshake always fails: under
// opportunistic TLS a second, plaintext session is opened at once and logged; under required TLS
// the TlsFailure goes to the caller.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Socket } from "node:net";
import { once } from "node:events";
import { createMemoryLogger } from "../observability/log.js";
import { TlsFailure } from "./smtp-client.js";
import { openSession } from "./tls-outcome.js";

async function brokenStartTls(): Promise<{ port: number; close: () => void; connections: () => number }> {
  let connections = 0;
  const server = createServer((socket: Socket) => {
    connections++;
    socket.on("error", () => undefined);
    socket.write("220 broken.test ESMTP\r\n");
    let starting = false;
    socket.on("data", (chunk: Buffer) => {
      if (starting) return void socket.end("HTTP/1.0 400 Bad Request\r\n\r\n");
      for (const line of chunk.toString("latin1").split("\r\n").filter((l) => l !== "")) {
        const verb = line.split(" ")[0]!.toUpperCase();
        if (verb === "EHLO") socket.write("250-broken.test\r\n250 STARTTLS\r\n");
        else if (verb === "STARTTLS") {
          starting = true;
          socket.write("220 2.0.0 go ahead\r\n");
        } else socket.write("250 2.0.0 ok\r\n");
      }
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { port: (server.address() as { port: number }).port, close: () => server.close(), connections: () => connections };
}

const base = { address: "127.0.0.1", serverName: "mx.example.org", heloName: "client.test", connectTimeoutMs: 5000, commandTimeoutMs: 5000 };

test("opportunistic: a failed handshake is followed by a plaintext session, logged queue.tls_fallback with the reason", async () => {
  const server = await brokenStartTls();
  const log = createMemoryLogger();
  const failures: TlsFailure[] = [];
  try {
    const client = await openSession({ ...base, port: server.port, tls: "opportunistic" }, { name: "mx.example.org", port: server.port, tls: "opportunistic", auth: null }, log, 7, (failure) => failures.push(failure));
    assert.equal(client.secure, false);
    await client.quit();
    assert.equal(server.connections(), 2);
    assert.equal(failures.length, 1);
    const line = log.records.find((r) => r.event === "queue.tls_fallback");
    assert.ok(line, "logged");
    assert.equal(line.level, "warn");
    assert.equal(line["queueId"], 7);
    assert.match(String(line["reason"]), /TLS handshake with mx\.example\.org failed/);
  } finally {
    server.close();
  }
});

test("required TLS: the same failure is thrown, no second session", async () => {
  const server = await brokenStartTls();
  const log = createMemoryLogger();
  try {
    await assert.rejects(openSession({ ...base, port: server.port, tls: "required" }, { name: "mx.example.org", port: server.port, tls: "required", auth: null, verifyCertificate: true }, log, 7), (error: unknown) => error instanceof TlsFailure && error.stage === "handshake");
    assert.equal(server.connections(), 1);
    assert.equal(log.records.filter((r) => r.event === "queue.tls_fallback").length, 0);
  } finally {
    server.close();
  }
});
