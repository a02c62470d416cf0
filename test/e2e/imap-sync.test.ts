// Mailbox state across sessions, over raw sockets for exact responses: IDLE sees a delivery at
// once, two sessions stay consistent under concurrent STORE/EXPUNGE (EXPUNGE held back during
// FETCH), a keyword new to the mailbox is announced with FLAGS first, LOGOUT sends nothing after
// its BYE, and a QRESYNC client resynchronises with VANISHED (EARLIER) and changed FETCHes.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { deliverTo, startImapHarness, type ImapHarness } from "../harness/imap-harness.js";
import { RawImapClient } from "../harness/imap-raw-client.js";

async function loggedIn(harness: ImapHarness, mailbox: string | null): Promise<RawImapClient> {
  const client = await RawImapClient.open(harness.ports.imap);
  client.take();
  await client.command("l", "LOGIN bob@example.org bob-pass");
  if (mailbox !== null) await client.command("s", `SELECT ${mailbox}`);
  return client;
}

describe("IMAP mailbox synchronisation", () => {
  let harness: ImapHarness;
  before(async () => {
    harness = await startImapHarness();
  });
  after(async () => harness.stop());

  it("IDLE reports a delivery from SMTP (the store) within a second, and ends on DONE", async () => {
    await harness.temp.store.createMailbox(harness.accounts.bob.id, "Idle");
    const client = await loggedIn(harness, "Idle");
    try {
      client.send("i1 IDLE\r\n");
      await client.until((t) => t.includes("+ idling\r\n"));
      client.take();
      const started = Date.now();
      await deliverTo(harness, harness.accounts.bob, "ping", "Idle");
      await client.until((t) => t.includes("* 1 EXISTS\r\n"), 1000);
      assert.ok(Date.now() - started < 1000);
      client.take();
      client.send("DONE\r\n");
      assert.match(await client.until((t) => t.includes("i1 ")), /^i1 OK IDLE completed\r\n$/);
    } finally {
      client.close();
    }
  });

  it("two sessions: flags and expunges from one reach the other, never an EXPUNGE during FETCH", async () => {
    await harness.temp.store.createMailbox(harness.accounts.bob.id, "Shared");
    for (const subject of ["one", "two", "three"]) await deliverTo(harness, harness.accounts.bob, subject, "Shared");
    const a = await loggedIn(harness, "Shared");
    const b = await loggedIn(harness, "Shared");
    try {
      // a selected first, so the messages are \Recent to a (RFC 3501 §2.3.2), not to b.
      assert.match(await a.command("a1", "STORE 2 +FLAGS (\\Deleted)"), /\* 2 FETCH \(UID 2 FLAGS \(\\Deleted \\Recent\)\)/);
      assert.match(await a.command("a2", "EXPUNGE"), /^\* 2 EXPUNGE\r\na2 OK/);
      // b learns of the flag change and of the expunge only where RFC 9051 §7.4.1 allows.
      const fetch = await b.command("b1", "FETCH 1:3 (UID)");
      assert.doesNotMatch(fetch, /\* \d+ EXPUNGE/);
      assert.match(fetch, /\* 3 FETCH \(UID 3\)/);
      // The expunged message is left out, and the tagged OK says why (RFC 5530 §3).
      assert.match(fetch, /b1 OK \[EXPUNGEISSUED\]/);
      const noop = await b.command("b2", "NOOP");
      assert.match(noop, /\* 2 EXPUNGE\r\n/);
      assert.match(await b.command("b3", "FETCH 1:* (UID)"), /^\* 1 FETCH \(UID 1\)\r\n\* 2 FETCH \(UID 3\)\r\nb3 OK/);
      // Concurrent STOREs from both sessions: each sees the other's result.
      // Each may learn of the other's change before its own tagged OK or at the next NOOP.
      const [a3, b4] = await Promise.all([a.command("a3", "STORE 1 +FLAGS (\\Seen)"), b.command("b4", "STORE 2 +FLAGS (\\Answered)")]);
      assert.match(a3 + (await a.command("a4", "NOOP")), /\* 2 FETCH \(UID 3 FLAGS \(\\Answered \\Recent\)\)/);
      assert.match(b4 + (await b.command("b5", "NOOP")), /\* 1 FETCH \(UID 1 FLAGS \(\\Seen\)\)/);
    } finally {
      a.close();
      b.close();
    }
  });

  it("a keyword another session brings into use is announced with FLAGS before the FETCH that shows it", async () => {
    await harness.temp.store.createMailbox(harness.accounts.bob.id, "Keywords");
    await deliverTo(harness, harness.accounts.bob, "tagged", "Keywords");
    const a = await loggedIn(harness, "Keywords");
    const b = await loggedIn(harness, "Keywords");
    try {
      assert.match(await a.command("a1", "STORE 1 +FLAGS ($Important)"), /^\* FLAGS \([^)]*\$Important\)\r\n\* OK \[PERMANENTFLAGS \([^)]*\$Important \\\*\)\][^\r]*\r\n\* 1 FETCH /);
      // b learns the keyword, then the change (RFC 9051 §7.3.5: the client records every FLAGS).
      const noop = await b.command("b1", "NOOP");
      assert.match(noop, /^\* FLAGS \(\\Answered \\Flagged \\Deleted \\Seen \\Draft \$Important\)\r\n\* OK \[PERMANENTFLAGS [^\r]*\r\n\* 1 FETCH \(UID 1 FLAGS \(\$Important\)\)\r\nb1 OK/);
      // Told once: the next change with a known keyword comes alone.
      await a.command("a2", "STORE 1 -FLAGS ($Important)");
      await a.command("a3", "STORE 1 +FLAGS ($Important)");
      assert.doesNotMatch(await b.command("b2", "NOOP"), /\* FLAGS/);
      // A message delivered with a new keyword: FLAGS comes before its EXISTS.
      const inbox = await harness.temp.store.getMailbox(harness.accounts.bob.id, "Keywords");
      await harness.temp.store.append(inbox!.id, Buffer.from("Subject: labelled\r\n\r\nx\r\n"), { flags: ["$Label1"] });
      assert.match(await b.command("b3", "NOOP"), /^\* FLAGS \([^)]*\$Important \$Label1\)\r\n[^]*\* 2 EXISTS\r\n/);
    } finally {
      a.close();
      b.close();
    }
  });

  it("LOGOUT: `* BYE` is followed by the tagged OK only, never by pending EXPUNGE or FETCH", async () => {
    await harness.temp.store.createMailbox(harness.accounts.bob.id, "Leaving");
    for (const subject of ["one", "two"]) await deliverTo(harness, harness.accounts.bob, subject, "Leaving");
    const a = await loggedIn(harness, "Leaving");
    const b = await loggedIn(harness, "Leaving");
    try {
      await a.command("a1", "STORE 1 +FLAGS (\\Deleted)");
      await a.command("a2", "STORE 2 +FLAGS (\\Flagged)");
      await a.command("a3", "EXPUNGE");
      assert.equal(await b.command("b1", "LOGOUT"), "* BYE Logging out\r\nb1 OK LOGOUT completed\r\n");
    } finally {
      a.close();
      b.close();
    }
  });

  it("QRESYNC: SELECT with the last known modseq gets VANISHED (EARLIER) and only changed messages", async () => {
    await harness.temp.store.createMailbox(harness.accounts.bob.id, "Resync");
    for (const subject of ["r1", "r2", "r3", "r4"]) await deliverTo(harness, harness.accounts.bob, subject, "Resync");
    const client = await loggedIn(harness, null);
    try {
      await client.command("e1", "ENABLE QRESYNC");
      const selected = await client.command("e2", "SELECT Resync");
      const uidValidity = /UIDVALIDITY (\d+)/.exec(selected)?.[1];
      const modseq = /HIGHESTMODSEQ (\d+)/.exec(selected)?.[1];
      assert.ok(uidValidity !== undefined && modseq !== undefined);
      await client.command("e3", "UNSELECT");
      // Another session changes things while this client is away.
      const mailbox = (await harness.temp.store.getMailbox(harness.accounts.bob.id, "Resync"))!;
      const uids = (await harness.temp.store.listMessages(mailbox.id)).map((m) => m.uid);
      await harness.temp.store.updateFlags(mailbox.id, [uids[2]!], { mode: "add", flags: ["\\Flagged"] });
      await harness.temp.store.removeMessages(mailbox.id, [uids[0]!]);
      const resync = await client.command("e4", `SELECT Resync (QRESYNC (${uidValidity} ${modseq} 1:4))`);
      assert.match(resync, /\* VANISHED \(EARLIER\) 1\r\n/);
      assert.match(resync, /\* 2 FETCH \(UID 3 FLAGS \(\\Flagged\) MODSEQ \(\d+\)\)\r\n/);
      assert.equal((resync.match(/ FETCH /g) ?? []).length, 1, "only the changed message is sent");
      // Under QRESYNC, expunges arrive as VANISHED.
      await client.command("e5", "STORE 1 +FLAGS.SILENT (\\Deleted)");
      assert.match(await client.command("e6", "EXPUNGE"), /^\* VANISHED 2\r\ne6 OK/);
    } finally {
      client.close();
    }
  });
});
