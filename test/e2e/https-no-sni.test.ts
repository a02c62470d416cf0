// HTTPS by IP address: a browser opening https://<ip>/admin sends no SNI (RFC 6066 §3 allows no IP
// literal in server_name). Over real sockets: OpenSSL's s_client with -noservername and Node's
// tls.connect without a servername both get the server's certificate (the self-signed one, naming
// the loopback addresses and the listeners' bind address, none of the machine's other interface
// addresses) and the admin page.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { once } from "node:events";
import { networkInterfaces } from "node:os";
import { connect } from "node:tls";
import { startFullServer } from "../harness/full-server.js";

test("HTTPS without SNI gets the default certificate and the page (openssl s_client -noservername, Node tls.connect)", async () => {
  const server = await startFullServer({ protocols: ["smtp"] });
  try {
    const port = server.server.http!.bound.find((b) => b.scheme === "https")!.port;
    const request = "GET /admin/login HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";

    // OpenSSL: no server_name extension at all; the request goes in on stdin.
    const child = execFile("openssl", ["s_client", "-connect", `127.0.0.1:${port}`, "-noservername", "-ign_eof", "-showcerts"], { timeout: 60_000 });
    let out = "";
    child.stdout!.on("data", (chunk: Buffer) => (out += chunk.toString("latin1")));
    child.stderr!.on("data", (chunk: Buffer) => (out += chunk.toString("latin1")));
    child.stdin!.end(request);
    await once(child, "close");
    assert.match(out, /-----BEGIN CERTIFICATE-----/, out.slice(0, 2000));
    assert.match(out, /subject=.*CN ?= ?mx\.example\.org/);
    assert.doesNotMatch(out, /no peer certificate available/);
    assert.match(out, /HTTP\/1\.1 200/);
    assert.match(out, /Sign in/);

    // Node: servername omitted (and Node never sends an IP as SNI).
    const socket = connect({ host: "127.0.0.1", port, rejectUnauthorized: false });
    await once(socket, "secureConnect");
    assert.equal((socket as unknown as { servername?: string | false }).servername || undefined, undefined, "no SNI sent");
    const certificate = socket.getPeerX509Certificate()!;
    assert.match(certificate.subject, /CN=mx\.example\.org/);
    assert.match(certificate.subjectAltName ?? "", /IP Address:127\.0\.0\.1/);
    assert.match(certificate.subjectAltName ?? "", /DNS:mx\.example\.org/);
    socket.end(request);
    let page = "";
    for await (const chunk of socket) page += (chunk as Buffer).toString("utf8");
    assert.match(page, /^HTTP\/1\.1 200/);
    assert.match(page, /Sign in/);
    // Only loopback and the addresses the listeners bind (127.0.0.1 here): the machine's other
    // interface addresses (Docker, VPN) are not told to whoever connects to a TLS port.
    const named = [...(certificate.subjectAltName ?? "").matchAll(/IP Address:([0-9A-Fa-f:.]+)/g)].map((m) => m[1]!);
    assert.deepEqual(named.filter((ip) => ip !== "127.0.0.1" && !/^(0:){7}0*1$|^::1$/i.test(ip)), [], certificate.subjectAltName);
    for (const entry of Object.values(networkInterfaces()).flat()) {
      if (entry && !entry.internal) assert.ok(!named.includes(entry.address), `${entry.address} is not in the certificate`);
    }

  } finally {
    await server.stop();
  }
});
