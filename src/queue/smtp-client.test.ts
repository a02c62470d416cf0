// The outbound client against Mailroom's own MX listener (real TLS, real session) and against
// scripted servers for the paths Mailroom never takes (HELO-only, no STARTTLS, garbage replies).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { once } from "node:events";
import { startSmtpHarness, mailboxMessages } from "../../test/harness/smtp-harness.js";
import { SmtpClient, SmtpClientError, replyText, type OutboundEnvelope, type SmtpClientOptions } from "./smtp-client.js";

const base = { address: "127.0.0.1", serverName: "mx.example.org", heloName: "client.test", connectTimeoutMs: 2000, commandTimeoutMs: 2000 };

function envelope(recipients: string[], size = 100): OutboundEnvelope {
  return { mailFrom: "sender@client.test", recipients: recipients.map((address) => ({ address, notify: null, originalRecipient: null })), envelopeId: null, ret: null, body: null, smtputf8: false, size };
}

async function* body(text: string): AsyncGenerator<Buffer> {
  yield Buffer.from(text);
}

test("delivers over STARTTLS with pipelining to Mailroom's MX, with a reply per recipient", async () => {
  const harness = await startSmtpHarness();
  try {
    const client = await SmtpClient.open({ ...base, port: harness.ports.mx, tls: "required" });
    assert.equal(client.secure, true);
    assert.ok(client.extensions.has("PIPELINING"));
    const message = "From: sender@client.test\r\nTo: bob@example.org\r\nSubject: hi\r\n\r\n.leading dot\r\nbye\r\n";
    const replies = await client.send(envelope(["bob@example.org", "nobody@example.org"]), body(message));
    await client.quit();
    assert.equal(replies.mail.code, 250);
    assert.deepEqual(replies.recipients.map((r) => r.code), [250, 550]);
    assert.equal(replies.data?.code, 250);
    const inbox = await mailboxMessages(harness, harness.accounts.bob);
    assert.equal(inbox.length, 1);
    assert.ok(inbox[0]!.text.endsWith(message), inbox[0]!.text);
  } finally {
    await harness.stop();
  }
});

/** A server that answers each command line from a script keyed by the verb. */
async function scriptedServer(greeting: string, answers: Record<string, string>, seen: string[] = []): Promise<{ server: Server; port: number }> {
  const server = createServer((socket: Socket) => {
    socket.write(greeting);
    let buffer = "";
    let inData = false;
    socket.on("data", (chunk: Buffer) => {
      buffer += chunk.toString("latin1");
      let end: number;
      while ((end = buffer.indexOf("\r\n")) >= 0) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (inData) {
          if (line === ".") {
            inData = false;
            socket.write(answers["."] ?? "250 ok\r\n");
          }
          continue;
        }
        seen.push(line);
        const verb = line.split(/[ :]/)[0]!.toUpperCase();
        const answer = answers[verb] ?? "250 ok\r\n";
        if (verb === "DATA" && answer.startsWith("354")) inData = true;
        socket.write(answer);
        if (verb === "QUIT") socket.end();
      }
    });
    socket.on("error", () => undefined);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  return { server, port: address.port };
}

test("falls back to HELO, sends one command at a time without PIPELINING and no DSN parameters", async () => {
  const seen: string[] = [];
  const { server, port } = await scriptedServer("220 old.test\r\n", { EHLO: "502 5.5.1 what\r\n", HELO: "250 old.test\r\n", RCPT: "250 ok\r\n", DATA: "354 go\r\n", ".": "250 2.0.0 queued\r\n" }, seen);
  try {
    const client = await SmtpClient.open({ ...base, port, tls: "opportunistic" });
    assert.equal(client.secure, false);
    const env = { ...envelope(["a@old.test"]), envelopeId: "id1", ret: "HDRS" as const, recipients: [{ address: "a@old.test", notify: ["FAILURE"], originalRecipient: "rfc822;a@old.test" }] };
    const replies = await client.send(env, body("Subject: x\r\n\r\nhi\r\n"));
    await client.quit();
    assert.equal(replyText(replies.data!), "250 2.0.0 queued");
    assert.deepEqual(seen.slice(0, 5), ["EHLO client.test", "HELO client.test", "MAIL FROM:<sender@client.test>", "RCPT TO:<a@old.test>", "DATA"]);
  } finally {
    server.close();
  }
});

test("sends DSN parameters, SIZE and BODY to a server that offers them", async () => {
  const seen: string[] = [];
  const { server, port } = await scriptedServer("220 dsn.test\r\n", { EHLO: "250-dsn.test\r\n250-DSN\r\n250-SIZE 1000\r\n250 8BITMIME\r\n", DATA: "354 go\r\n" }, seen);
  try {
    const client = await SmtpClient.open({ ...base, port, tls: "opportunistic" });
    const env: OutboundEnvelope = { ...envelope([]), body: "8BITMIME", envelopeId: "a+b", ret: "FULL", recipients: [{ address: "x@dsn.test", notify: ["SUCCESS", "DELAY"], originalRecipient: "rfc822;X=y@dsn.test" }] };
    await client.send(env, body("x\r\n"));
    await client.quit();
    assert.ok(seen.includes("MAIL FROM:<sender@client.test> SIZE=100 BODY=8BITMIME RET=FULL ENVID=a+2Bb"), seen.join("\n"));
    assert.ok(seen.includes("RCPT TO:<x@dsn.test> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;X+3Dy@dsn.test"), seen.join("\n"));
  } finally {
    server.close();
  }
});

test("require TLS fails temporarily when STARTTLS is not offered; a 554 greeting fails permanently", async () => {
  const plain = await scriptedServer("220 plain.test\r\n", { EHLO: "250-plain.test\r\n250 PIPELINING\r\n" });
  const refusing = await scriptedServer("554 5.7.1 go away\r\n", {});
  try {
    await assert.rejects(SmtpClient.open({ ...base, port: plain.port, tls: "required" }), (e: unknown) => e instanceof SmtpClientError && e.temporary && /TLS required/.test(e.message));
    await assert.rejects(SmtpClient.open({ ...base, port: refusing.port, tls: "opportunistic" }), (e: unknown) => e instanceof SmtpClientError && !e.temporary && /554 5.7.1 go away/.test(e.message));
  } finally {
    plain.server.close();
    refusing.server.close();
  }
});

test("a server that never answers times out, and a refused connection is a temporary error", async () => {
  const silent = createServer(() => undefined);
  silent.listen(0, "127.0.0.1");
  await once(silent, "listening");
  const port = (silent.address() as { port: number }).port;
  const options: SmtpClientOptions = { ...base, port, tls: "none", connectTimeoutMs: 200 };
  try {
    await assert.rejects(SmtpClient.open(options), (e: unknown) => e instanceof SmtpClientError && e.temporary && /within 200 ms/.test(e.message));
  } finally {
    silent.close();
  }
  await assert.rejects(SmtpClient.open(options), (e: unknown) => e instanceof SmtpClientError && e.temporary && /ECONNREFUSED/.test(e.message));
});

test("a failed TLS handshake is one readable line, never OpenSSL's raw error queue with its line breaks", async () => {
  // A "server" that agrees to STARTTLS and then answers the ClientHello with plain text, as a
  // broken middlebox does: OpenSSL reports "wrong version number" (or "packet length too long").
  const { server, port } = await scriptedServer("220 broken.test\r\n", { EHLO: "250-broken.test\r\n250 STARTTLS\r\n", STARTTLS: "220 go ahead\r\n" });
  server.removeAllListeners("connection");
  server.on("connection", (socket: Socket) => {
    socket.on("error", () => undefined);
    socket.write("220 broken.test\r\n");
    let buffer = "";
    let upgraded = false;
    socket.on("data", (chunk: Buffer) => {
      if (upgraded) {
        socket.end("this is not TLS\r\n\r\nat all, sorry\r\n".repeat(20));
        return;
      }
      buffer += chunk.toString("latin1");
      if (buffer.includes("EHLO")) socket.write("250-broken.test\r\n250 STARTTLS\r\n");
      if (buffer.includes("STARTTLS")) {
        upgraded = true;
        socket.write("220 go ahead\r\n");
      }
      buffer = "";
    });
  });
  try {
    const failure = await SmtpClient.open({ ...base, port, tls: "opportunistic" }).then(
      () => null,
      (error: unknown) => error,
    );
    assert.ok(failure instanceof SmtpClientError, String(failure));
    assert.doesNotMatch(failure.message, /[\r\n]/);
    assert.doesNotMatch(failure.message, /SSL routines|\.c:\d+/);
    assert.match(failure.message, /^TLS handshake with mx\.example\.org failed: \S/);
  } finally {
    server.close();
  }
});

test("oneLine and tlsFailureReason flatten whatever an error carries", async () => {
  const { oneLine, tlsFailureReason } = await import("./smtp-client.js");
  assert.equal(oneLine("a\r\nb\n\tc  d"), "a b c d");
  assert.equal(oneLine("x".repeat(500)).length, 300);
  const raw = Object.assign(new Error("C0E7A1F2D37F0000:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../deps/openssl/openssl/ssl/record/ssl3_record.c:355:\n"), { reason: "wrong version number", code: "ERR_SSL_WRONG_VERSION_NUMBER" });
  assert.equal(tlsFailureReason(raw), "wrong version number (ERR_SSL_WRONG_VERSION_NUMBER)");
  assert.equal(tlsFailureReason(new Error("C0E7A1F2D37F0000:error:0A000086:SSL routines:tls_post_process_server_certificate:certificate verify failed:../ssl/statem/statem_clnt.c:1889:\n")), "certificate verify failed");
  assert.equal(tlsFailureReason(new Error("self-signed certificate")), "self-signed certificate");
});

test("REQUIRETLS (RFC 8689) goes on MAIL FROM when the envelope carries it", async () => {
  const seen: string[] = [];
  const { server, port } = await scriptedServer("220 rt.test\r\n", { EHLO: "250-rt.test\r\n250 REQUIRETLS\r\n", DATA: "354 go\r\n" }, seen);
  try {
    const client = await SmtpClient.open({ ...base, port, tls: "none" });
    await client.send({ ...envelope(["x@rt.test"]), requireTls: true }, body("x\r\n"));
    await client.quit();
    assert.ok(seen.includes("MAIL FROM:<sender@client.test> REQUIRETLS"), seen.join("\n"));
  } finally {
    server.close();
  }
});
