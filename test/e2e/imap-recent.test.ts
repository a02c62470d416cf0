// IMAP4rev1 \Recent (RFC 3501 §2.3.2) over raw sockets: a message is \Recent in exactly one
// session, the first to select its mailbox read-write after it arrived; EXAMINE claims nothing;
// messages arriving while a session has the mailbox selected are recent to that session;
// SEARCH RECENT/NEW/OLD and STATUS RECENT agree; IMAP4rev2 clients never see \Recent.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { deliverTo, startImapHarness, type ImapHarness } from "../harness/imap-harness.js";
import { RawImapClient } from "../harness/imap-raw-client.js";

async function loggedIn(harness: ImapHarness): Promise<RawImapClient> {
  const client = await RawImapClient.open(harness.ports.imap);
  client.take();
  await client.command("l", "LOGIN bob@example.org bob-pass");
  return client;
}

describe("IMAP \\Recent", () => {
  let harness: ImapHarness;
  before(async () => {
    harness = await startImapHarness();
  });
  after(async () => harness.stop());

  it("is claimed by the first read-write SELECT only; EXAMINE and later sessions see none", async () => {
    await harness.temp.store.createMailbox(harness.accounts.bob.id, "R1");
    for (const subject of ["one", "two"]) await deliverTo(harness, harness.accounts.bob, subject, "R1");
    const a = await loggedIn(harness);
    const b = await loggedIn(harness);
    try {
      assert.match(await a.command("a1", "STATUS R1 (MESSAGES RECENT)"), /\* STATUS "R1" \(MESSAGES 2 RECENT 2\)/);
      assert.match(await a.command("a2", "EXAMINE R1"), /\* 2 RECENT\r\n[^]*a2 OK \[READ-ONLY\]/);
      // EXAMINE shows them but "MUST NOT cause messages to lose the \Recent flag" (RFC 3501 §6.3.2).
      assert.match(await a.command("a3", "FETCH 1:* (FLAGS)"), /\* 1 FETCH \(FLAGS \(\\Recent\)\)\r\n\* 2 FETCH \(FLAGS \(\\Recent\)\)/);
      assert.match(await b.command("b1", "SELECT R1"), /\* 2 RECENT\r\n/);
      assert.match(await b.command("b2", "FETCH 1:* (FLAGS)"), /\* 1 FETCH \(FLAGS \(\\Recent\)\)\r\n\* 2 FETCH \(FLAGS \(\\Recent\)\)/);
      assert.match(await a.command("a4", "STATUS R1 (RECENT)"), /\* STATUS "R1" \(RECENT 0\)/);
      assert.match(await a.command("a5", "SELECT R1"), /\* 0 RECENT\r\n/);
      assert.match(await a.command("a6", "FETCH 1:* (FLAGS)"), /\* 1 FETCH \(FLAGS \(\)\)\r\n\* 2 FETCH \(FLAGS \(\)\)/);
      // b keeps them while it has the mailbox selected; \Seen and SEARCH NEW/OLD follow.
      assert.match(await b.command("b3", "STORE 1 +FLAGS (\\Seen)"), /\* 1 FETCH \(UID 1 FLAGS \(\\Seen \\Recent\)\)/);
      assert.match(await b.command("b4", "SEARCH RECENT"), /\* SEARCH 1 2\r\n/);
      assert.match(await b.command("b5", "SEARCH NEW"), /\* SEARCH 2\r\n/);
      assert.match(await b.command("b6", "SEARCH OLD"), /\* SEARCH\r\n/);
      assert.match(await a.command("a7", "SEARCH RECENT"), /\* SEARCH\r\n/);
    } finally {
      a.close();
      b.close();
    }
  });

  it("a message arriving while two sessions have the mailbox selected is \\Recent in one of them", async () => {
    await harness.temp.store.createMailbox(harness.accounts.bob.id, "R2");
    const a = await loggedIn(harness);
    const b = await loggedIn(harness);
    try {
      await a.command("a1", "SELECT R2");
      await b.command("b1", "SELECT R2");
      await deliverTo(harness, harness.accounts.bob, "late", "R2");
      // Both are told of it at once (their NOOPs race for the claim), then FETCH shows who won.
      const [noopA, noopB] = await Promise.all([a.command("a2", "NOOP"), b.command("b2", "NOOP")]);
      assert.match(noopA, /\* 1 EXISTS\r\n/);
      assert.match(noopB, /\* 1 EXISTS\r\n/);
      const [fromA, fromB] = await Promise.all([a.command("a3", "FETCH 1 (FLAGS)"), b.command("b3", "FETCH 1 (FLAGS)")]);
      const recentIn = [fromA, fromB].filter((reply) => /\* 1 FETCH \(FLAGS \(\\Recent\)\)/.test(reply));
      assert.equal(recentIn.length, 1, `exactly one session sees \\Recent:\n${fromA}\n${fromB}`);
      assert.match(await a.command("a4", "STATUS R2 (RECENT)"), /RECENT 0/);
    } finally {
      a.close();
      b.close();
    }
  });

  it("a COPY into the selected mailbox from another session: EXISTS then RECENT (RFC 3501 §7.3.2)", async () => {
    await harness.temp.store.createMailbox(harness.accounts.bob.id, "R4");
    await harness.temp.store.createMailbox(harness.accounts.bob.id, "R4src");
    for (const subject of ["one", "two"]) await deliverTo(harness, harness.accounts.bob, subject, "R4src");
    const watcher = await loggedIn(harness);
    const copier = await loggedIn(harness);
    try {
      assert.match(await watcher.command("w1", "SELECT R4"), /\* 0 EXISTS\r\n\* 0 RECENT\r\n/);
      await copier.command("c1", "SELECT R4src");
      await copier.command("c2", "COPY 1:2 R4");
      assert.match(await watcher.command("w2", "NOOP"), /^\* 2 EXISTS\r\n\* 2 RECENT\r\nw2 OK/);
      assert.match(await watcher.command("w3", "FETCH 1:2 (FLAGS)"), /\* 1 FETCH \(FLAGS \(\\Recent\)\)\r\n\* 2 FETCH \(FLAGS \(\\Recent\)\)/);
    } finally {
      watcher.close();
      copier.close();
    }
  });

  it("IMAP4rev2 (ENABLE IMAP4rev2): no RECENT response, no \\Recent flag, and nothing claimed", async () => {
    await harness.temp.store.createMailbox(harness.accounts.bob.id, "R3");
    await deliverTo(harness, harness.accounts.bob, "modern", "R3");
    const client = await loggedIn(harness);
    try {
      await client.command("e1", "ENABLE IMAP4rev2");
      const select = await client.command("e2", "SELECT R3");
      assert.doesNotMatch(select, /RECENT/);
      assert.match(await client.command("e3", "FETCH 1 (FLAGS)"), /\* 1 FETCH \(FLAGS \(\)\)/);
      assert.match(await client.command("e4", "STORE 1 +FLAGS (\\Flagged)"), /\* 1 FETCH \(UID 1 FLAGS \(\\Flagged\)\)/);
      // Still unclaimed: the next rev1 session gets it.
      const rev1 = await loggedIn(harness);
      assert.match(await rev1.command("r1", "SELECT R3"), /\* 1 RECENT\r\n/);
      rev1.close();
    } finally {
      client.close();
    }
  });
});
