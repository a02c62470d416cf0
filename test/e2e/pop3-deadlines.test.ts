// POP3 deadlines over real sockets, with short configured values: a connection that never logs in
// is closed after limits.pop3_unauthenticated_idle, a client trickling a command line one byte at
// a time is closed after limits.pop3_command_deadline although it is never idle, a logged-in
// session keeps the longer limits.pop3_idle, and every -ERR a client caused is in the log with
// the connection's id. python3's poplib shows a real client still works within the limits.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { createMemoryLogger } from "../../src/observability/log.js";
import { RawPop3Client, startPop3Harness, type Pop3Harness, type Pop3HarnessOptions } from "../harness/pop3-harness.js";
import { python } from "../harness/smtp-clients.js";

const SHORT: Pop3HarnessOptions = { allowPlaintextAuth: true, pop3UnauthenticatedIdle: 500, pop3CommandDeadline: 1_000, pop3Idle: 20_000 };

async function withHarness(options: Pop3HarnessOptions, body: (h: Pop3Harness) => Promise<void>): Promise<void> {
  const h = await startPop3Harness(options);
  try {
    await body(h);
  } finally {
    await h.stop();
  }
}

/** Reads lines until the server closes; returns them and how long the close took from `since`. */
async function untilClosed(client: RawPop3Client, since: number): Promise<{ lines: string[]; afterMs: number }> {
  const lines: string[] = [];
  for (let line = await client.line(); line !== null; line = await client.line()) lines.push(line);
  return { lines, afterMs: Date.now() - since };
}

test("a connection that never logs in is closed after limits.pop3_unauthenticated_idle", async () => {
  await withHarness(SHORT, async (h) => {
    for (const [port, tls] of [[h.ports.pop3, false], [h.ports.pop3s, true]] as const) {
      const client = await RawPop3Client.open(port, { tls });
      assert.match((await client.line()) ?? "", /^\+OK /);
      const since = Date.now();
      const { lines, afterMs } = await untilClosed(client, since);
      assert.deepEqual(lines, ["-ERR [SYS/TEMP] autologout: idle for too long"]);
      assert.ok(afterMs >= 400 && afterMs < 5_000, `closed after ${afterMs} ms`);
    }
  });
});

test("a command line trickled a byte at a time is cut off at limits.pop3_command_deadline", async () => {
  await withHarness(SHORT, async (h) => {
    const client = await RawPop3Client.open(h.ports.pop3);
    assert.match((await client.line()) ?? "", /^\+OK /);
    const since = Date.now();
    // A byte every 150 ms: never idle for the 500 ms idle limit, so only the command deadline ends it.
    let sent = 0;
    const trickle = (async () => {
      for (const byte of "USER alice@example.org") {
        if (client.closed) break;
        client.write(byte);
        sent++;
        await sleep(150);
      }
    })();
    const { lines, afterMs } = await untilClosed(client, since);
    await trickle;
    assert.deepEqual(lines, ["-ERR [SYS/TEMP] autologout: command line not finished in time"]);
    assert.ok(afterMs >= 900 && afterMs < 5_000, `closed after ${afterMs} ms`);
    assert.ok(sent < "USER alice@example.org".length, "the line was still being sent when the session ended");
  });
});

test("logged in, the session keeps limits.pop3_idle: a pause longer than the pre-login limit is fine (python poplib)", async () => {
  await withHarness(SHORT, async (h) => {
    await h.deliver(h.accounts.alice, "From: bob@example.org\r\nSubject: hi\r\n\r\nhello\r\n");
    const script = `
import poplib, sys, time
p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=10)
p.user("alice@example.org"); p.pass_("alice-pass")
time.sleep(1.5)
print(p.stat()[0]); p.noop(); p.quit()
`;
    const result = await python(script, h.ports.pop3);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), "1");
  });
});

test("-ERR replies caused by the client are logged at info with the connection id", async () => {
  const log = createMemoryLogger();
  await withHarness({ ...SHORT, log }, async (h) => {
    const client = await RawPop3Client.open(h.ports.pop3);
    await client.line();
    assert.equal(await client.command("XYZZY"), "-ERR unknown command");
    assert.equal(await client.command("RETR 1"), "-ERR RETR is not valid in the AUTHORIZATION state");
    assert.equal(await client.command("USER alice@example.org"), "+OK send PASS");
    assert.equal(await client.command("PASS wrong-secret"), "-ERR [AUTH] authentication failed");
    client.close();
  });
  const errors = log.records.filter((r) => r.event === "pop3.client_error");
  assert.deepEqual(
    errors.map((r) => [r.level, r.command, r.reply]),
    [
      ["info", null, "unknown command"],
      ["info", "RETR", "RETR is not valid in the AUTHORIZATION state"],
      ["info", "PASS", "authentication failed"],
    ],
  );
  const connection = errors[0]!["conn"];
  assert.equal(typeof connection, "string");
  assert.ok(errors.every((r) => r["conn"] === connection && r["session"] === connection), "each line names the session");
  assert.doesNotMatch(JSON.stringify(log.records), /wrong-secret/);
});
