// RFC 5465 NOTIFY over real sockets: SET STATUS's initial STATUS, changes of other mailboxes
// reaching an idle connection between commands (STATUS for new, expunged and flagged messages;
// LIST for created, renamed, deleted and (un)subscribed mailboxes), the selected mailbox's new
// messages with their fetch attributes and its expunges sent at once, NOTIFY NONE stopping it,
// and the error paths (BADEVENT, malformed groups).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { deliverTo, startImapHarness, type ImapHarness } from "../harness/imap-harness.js";
import { RawImapClient } from "../harness/imap-raw-client.js";

describe("IMAP NOTIFY (RFC 5465)", () => {
  let h: ImapHarness;
  before(async () => {
    h = await startImapHarness();
  });
  after(() => h.stop());

  async function login(user: "alice" | "bob" = "alice"): Promise<RawImapClient> {
    const client = await RawImapClient.open(h.ports.imap);
    assert.match(await client.command("l0", `LOGIN ${user}@example.org ${user}-pass`), /l0 OK/);
    client.take();
    return client;
  }

  it("is advertised; unsupported events are NO [BADEVENT], malformed requests BAD", async () => {
    const c = await login();
    assert.match(await c.command("c1", "CAPABILITY"), /\bNOTIFY\b/);
    assert.match(await c.command("n1", "NOTIFY SET (personal (AnnotationChange))"), /n1 NO \[BADEVENT \(MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange MailboxMetadataChange ServerMetadataChange\)\]/);
    assert.match(await c.command("n3", "NOTIFY SET (everything (MessageNew))"), /n3 BAD/);
    assert.match(await c.command("n4", "NOTIFY SET (personal (MessageNew (UID)))"), /n4 BAD/, "fetch attributes only for the selected mailbox");
    assert.match(await c.command("n5", "NOTIFY SET (selected (MessageNew)) (selected-delayed (MessageNew))"), /n5 BAD/);
    assert.match(await c.command("n6", "NOTIFY MAYBE"), /n6 BAD/);
    assert.match(await c.command("n7", "NOTIFY NONE"), /n7 OK/);
    c.close();
  });

  it("SET STATUS sends the current STATUS of the watched mailboxes first", async () => {
    const c = await login();
    assert.match(await c.command("a1", "CREATE Watched"), /a1 OK/);
    await deliverTo(h, h.accounts.alice, "first", "Watched");
    const status = await c.command("n1", "NOTIFY SET STATUS (mailboxes Watched (MessageNew MessageExpunge))");
    assert.match(status, /^\* STATUS "?Watched"? \(MESSAGES 1 UIDNEXT 2 UIDVALIDITY \d+\)\r\nn1 OK/);
    const flags = await c.command("n2", "NOTIFY SET STATUS (mailboxes Watched (MessageNew MessageExpunge FlagChange))");
    assert.match(flags, /^\* STATUS "?Watched"? \(MESSAGES 1 UIDNEXT 2 UIDVALIDITY \d+ HIGHESTMODSEQ \d+\)\r\nn2 OK/);
    assert.match(await c.command("n2b", "NOTIFY SET STATUS (mailboxes Watched (FlagChange))"), /^\* STATUS "?Watched"? \(UIDVALIDITY \d+ HIGHESTMODSEQ \d+\)\r\nn2b OK/);
    assert.equal(await c.command("n3", "NOTIFY SET (mailboxes Watched (MessageNew MessageExpunge))"), "n3 OK NOTIFY completed\r\n");
    c.close();
  });

  it("other mailboxes' changes arrive between commands, without IDLE", async () => {
    const c = await login();
    const other = await login();
    assert.match(await c.command("a1", "CREATE Events"), /a1 OK/);
    assert.match(await c.command("n1", "NOTIFY SET (personal (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange))"), /n1 OK/);
    await deliverTo(h, h.accounts.alice, "news", "Events");
    assert.match(await c.until((t) => /\* STATUS "?Events"? \(MESSAGES 1 UIDNEXT 2 UIDVALIDITY \d+\)\r\n/.test(t)), /STATUS/);
    c.take();
    assert.match(await other.command("s1", "SELECT Events"), /s1 OK/);
    assert.match(await other.command("s2", "STORE 1 +FLAGS (\\Flagged)"), /s2 OK/);
    await c.until((t) => /\* STATUS "?Events"? \(UIDVALIDITY \d+ HIGHESTMODSEQ \d+\)\r\n/.test(t));
    c.take();
    assert.match(await other.command("s3", "STORE 1 +FLAGS (\\Deleted)"), /s3 OK/);
    assert.match(await other.command("s4", "EXPUNGE"), /s4 OK/);
    await c.until((t) => /\* STATUS "?Events"? \(MESSAGES 0[ )]/.test(t));
    c.take();
    assert.match(await other.command("m1", "CREATE Made"), /m1 OK/);
    await c.until((t) => t.includes('* LIST () "/" "Made"\r\n') || t.includes('* LIST () "/" Made\r\n'));
    assert.match(await other.command("m2", "RENAME Made Renamed"), /m2 OK/);
    await c.until((t) => /\* LIST \(\) "\/" "?Renamed"? \("OLDNAME" \("?Made"?\)\)\r\n/.test(t));
    assert.match(await other.command("m3", "SUBSCRIBE Renamed"), /m3 OK/);
    await c.until((t) => /\* LIST \(\\Subscribed\) "\/" "?Renamed"?\r\n/.test(t));
    assert.match(await other.command("m4", "DELETE Renamed"), /m4 OK/);
    await c.until((t) => /\* LIST \(\\NonExistent\) "\/" "?Renamed"?\r\n/.test(t));
    c.take();
    // NOTIFY NONE: nothing more.
    assert.match(await c.command("n2", "NOTIFY NONE"), /n2 OK/);
    await deliverTo(h, h.accounts.alice, "quiet", "Events");
    assert.match(await c.command("p1", "NOOP"), /^p1 OK/);
    c.close();
    other.close();
  });

  it("the selected mailbox: new messages with their fetch attributes, and expunges, at once", async () => {
    const c = await login("bob");
    const other = await login("bob");
    assert.match(await c.command("s1", "SELECT INBOX"), /s1 OK/);
    assert.match(await c.command("n1", "NOTIFY SET (selected (MessageNew (UID FLAGS) MessageExpunge FlagChange))"), /n1 OK/);
    await deliverTo(h, h.accounts.bob, "live");
    const got = await c.until((t) => /\* 1 FETCH \(/.test(t));
    assert.match(got, /\* 1 EXISTS\r\n[^]*\* 1 FETCH \(UID 1 FLAGS \((\\Recent)?\)\)\r\n/);
    c.take();
    assert.match(await other.command("o1", "SELECT INBOX"), /o1 OK/);
    assert.match(await other.command("o2", "STORE 1 +FLAGS (\\Deleted)"), /o2 OK/);
    // FlagChange: the flags as a FETCH, sent at once (rev1: \Recent still shown to this session).
    await c.until((t) => /\* 1 FETCH \((UID 1 )?FLAGS \(\\Deleted( \\Recent)?\)/.test(t));
    assert.match(await other.command("o3", "EXPUNGE"), /o3 OK/);
    await c.until((t) => /\* 1 EXPUNGE\r\n/.test(t));
    c.take();
    // SELECTED-DELAYED: the expunge waits for a command that may carry it.
    assert.match(await c.command("n2", "NOTIFY SET (selected-delayed (MessageNew MessageExpunge))"), /n2 OK/);
    await deliverTo(h, h.accounts.bob, "second");
    await c.until((t) => /\* 1 EXISTS\r\n/.test(t));
    c.take();
    assert.match(await other.command("o3b", "NOOP"), /\* 1 EXISTS/);
    assert.match(await other.command("o4", "STORE 1 +FLAGS.SILENT (\\Deleted)"), /o4 OK/);
    assert.match(await other.command("o5", "EXPUNGE"), /o5 OK/);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.doesNotMatch(c.take(), /EXPUNGE/, "not sent between commands");
    assert.match(await c.command("p1", "NOOP"), /\* 1 EXPUNGE\r\np1 OK/);
    c.close();
    other.close();
  });

  it("METADATA changes: unsolicited METADATA naming the changed entries (RFC 5464 §4.4.2)", async () => {
    const c = await login();
    const other = await login();
    assert.match(await c.command("a1", "CREATE Annotated"), /a1 OK/);
    assert.match(await c.command("n1", "NOTIFY SET (mailboxes Annotated (MailboxMetadataChange ServerMetadataChange))"), /n1 OK/);
    assert.match(await other.command("s1", 'SETMETADATA Annotated (/shared/comment "x" /private/color "red")'), /s1 OK/);
    await c.until((t) => /\* METADATA "Annotated" \/private\/color \/shared\/comment\r\n/.test(t));
    assert.match(await other.command("s2", 'SETMETADATA "" (/private/vendor/x "1")'), /s2 OK/);
    await c.until((t) => t.includes('* METADATA "" /private/vendor/x\r\n'));
    c.take();
    // A refused write changes nothing and says nothing.
    assert.match(await other.command("s3", 'SETMETADATA "" (/shared/admin "x")'), /s3 NO/);
    assert.match(await c.command("p1", "NOOP"), /^p1 OK/);
    c.close();
    other.close();
  });

  it("notifications reach a client in IDLE too", async () => {
    const c = await login("bob");
    assert.match(await c.command("a1", "CREATE Side"), /a1 OK/);
    assert.match(await c.command("s1", "SELECT INBOX"), /s1 OK/);
    assert.match(await c.command("n1", "NOTIFY SET (mailboxes Side (MessageNew MessageExpunge))"), /n1 OK/);
    c.send("i1 IDLE\r\n");
    await c.until((t) => t.includes("+ idling"));
    await deliverTo(h, h.accounts.bob, "side", "Side");
    await c.until((t) => /\* STATUS "?Side"? \(MESSAGES 1 UIDNEXT 2 UIDVALIDITY \d+\)\r\n/.test(t));
    c.send("DONE\r\n");
    await c.until((t) => /i1 OK/.test(t));
    c.close();
  });
});
