// Hostile IMAP clients over real sockets: a 4 GiB literal announcement, an over-long line, deep
// nesting, unknown commands and wrong states, STARTTLS command injection, a trickling client,
// and LOGIN refused without TLS when plaintext is not allowed.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startImapHarness, type ImapHarness } from "../harness/imap-harness.js";
import { RawImapClient } from "../harness/imap-raw-client.js";

describe("IMAP hostile input", () => {
  let harness: ImapHarness;
  before(async () => {
    harness = await startImapHarness({ limits: { imapLineLength: 2000, imapUnauthenticatedIdle: 1500 }, allowPlaintextAuthOnLoopback: false });
  });
  after(async () => harness.stop());

  async function open(): Promise<RawImapClient> {
    const client = await RawImapClient.open(harness.ports.imap);
    client.take();
    return client;
  }

  it("a 4 GiB synchronising literal gets NO [TOOBIG] at once and the connection carries on", async () => {
    const client = await open();
    try {
      const started = Date.now();
      assert.equal(await client.command("a1", "APPEND INBOX {4294967296}"), "a1 NO [TOOBIG] literal is larger than the APPENDLIMIT\r\n");
      assert.ok(Date.now() - started < 1000);
      assert.equal(await client.command("a2", "NOOP"), "a2 OK NOOP completed\r\n");
    } finally {
      client.close();
    }
  });

  it("an over-long line gets BAD, deep nesting gets BAD, unknown commands and wrong states get BAD", async () => {
    const client = await open();
    try {
      assert.equal(await client.command("a1", `NOOP ${"x".repeat(5000)}`), "a1 BAD command line too long\r\n");
      assert.equal(await client.command("a2", `ID ${"(".repeat(100)}`), "a2 BAD lists nested too deeply\r\n");
      assert.equal(await client.command("a3", "XYZZY"), "a3 BAD unknown command XYZZY\r\n");
      assert.equal(await client.command("a4", "UID CAPABILITY"), "a4 BAD unknown command UID CAPABILITY\r\n");
      assert.equal(await client.command("a5", "EXPUNGE"), "a5 BAD EXPUNGE is not allowed in this state\r\n");
      assert.equal(await client.command("a6", 'LOGIN "unterminated'), "a6 BAD unterminated quoted string\r\n");
      assert.equal(await client.command("a7", "NOOP"), "a7 OK NOOP completed\r\n");
    } finally {
      client.close();
    }
  });

  it("without TLS, LOGIN is refused and LOGINDISABLED advertised; commands pipelined after STARTTLS are dropped", async () => {
    const client = await open();
    try {
      const capability = await client.command("c1", "CAPABILITY");
      assert.match(capability, /LOGINDISABLED/);
      assert.doesNotMatch(capability, /AUTH=/);
      assert.equal(await client.command("c2", "LOGIN alice@example.org alice-pass"), "c2 NO [PRIVACYREQUIRED] LOGIN is disabled without TLS; use STARTTLS first\r\n");
      client.send("c3 STARTTLS\r\nc4 LOGIN alice@example.org alice-pass\r\n");
      await client.until((t) => t.includes("c3 OK"));
      // The injected LOGIN must never be answered in plaintext; the TLS handshake fails instead.
      await new Promise((r) => setTimeout(r, 300));
      assert.doesNotMatch(client.take(), /c4/);
    } finally {
      client.close();
    }
  });

  it("a client trickling one byte at a time is cut off by the command deadline", async () => {
    const client = await open();
    try {
      const started = Date.now();
      const timer = setInterval(() => client.send("x"), 200);
      try {
        assert.equal(await client.closedWithin(4000), true);
      } finally {
        clearInterval(timer);
      }
      assert.ok(Date.now() - started < 4000);
      assert.match(client.take(), /\* BYE \[UNAVAILABLE\] Autologout; command not completed in time/);
    } finally {
      client.close();
    }
  });
});
