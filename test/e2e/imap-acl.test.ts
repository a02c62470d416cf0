// RFC 4314 ACL with shared mailboxes and RFC 8440 LIST-MYRIGHTS over real sockets: alice grants
// bob rights on her folder; bob sees it under Shared/alice@example.org/ in NAMESPACE and LIST,
// selects it, keeps his own \Seen, is refused with NO [NOPERM] what his rights do not cover, and
// sees alice's changes in IDLE and through CHANGEDSINCE; a revoke takes effect at bob's next
// command. Exact responses through a raw client; python imaplib and imapflow as real clients.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ImapFlow } from "imapflow";
import { startImapHarness, type ImapHarness } from "../harness/imap-harness.js";
import { RawImapClient } from "../harness/imap-raw-client.js";
import { runPython } from "../harness/python.js";

const SHARED = "Shared/alice@example.org";
/** Responses without rev1's \Recent (a first SELECT claims it, RFC 3501 §2.3.2), which these tests do not look at. */
const withoutRecent = (text: string): string => text.replaceAll(" \\Recent", "").replaceAll("(\\Recent ", "(").replaceAll("(\\Recent)", "()");

describe("IMAP ACL and shared mailboxes (RFC 4314, RFC 8440)", () => {
  let h: ImapHarness;
  before(async () => {
    h = await startImapHarness();
  });
  after(() => h.stop());

  async function login(user: "alice" | "bob"): Promise<RawImapClient> {
    const client = await RawImapClient.open(h.ports.imap);
    assert.match(await client.command("l0", `LOGIN ${user}@example.org ${user}-pass`), /l0 OK/);
    return client;
  }

  async function appendTo(client: RawImapClient, tag: string, mailbox: string, flags: string, subject: string): Promise<void> {
    const message = `From: alice@example.org\r\nSubject: ${subject}\r\n\r\n${subject}\r\n`;
    assert.match(await client.command(tag, `APPEND ${mailbox} (${flags}) {${message.length}+}\r\n${message}`), new RegExp(`${tag} OK`));
  }

  it("advertises ACL, RIGHTS=texk and LIST-MYRIGHTS; SETACL, GETACL, LISTRIGHTS, MYRIGHTS and their errors", async () => {
    const alice = await login("alice");
    const caps = await alice.command("c1", "CAPABILITY");
    for (const capability of ["ACL", "RIGHTS=texk", "LIST-MYRIGHTS"]) assert.ok(caps.includes(` ${capability}`), capability);
    assert.match(await alice.command("a1", "CREATE Team"), /a1 OK/);
    assert.equal(await alice.command("a2", "GETACL Team"), '* ACL "Team" "alice@example.org" lrswipkxteacd\r\na2 OK GETACL completed\r\n');
    assert.match(await alice.command("a3", "SETACL Team bob@example.org lr"), /a3 OK/);
    // "+" adds, and the obsolete "d" means x, t and e (RFC 4314 §2.1.1).
    assert.match(await alice.command("a4", "SETACL Team Bob@Example.org +sd"), /a4 OK/);
    assert.match(await alice.command("a5", "SETACL Team anyone l"), /a5 OK/);
    assert.equal(await alice.command("a6", "GETACL Team"), '* ACL "Team" "alice@example.org" lrswipkxteacd "anyone" l "bob@example.org" lrsxted\r\na6 OK GETACL completed\r\n');
    assert.match(await alice.command("a7", "SETACL Team bob@example.org -xte"), /a7 OK/);
    assert.equal(await alice.command("a8", "LISTRIGHTS Team bob@example.org"), '* LISTRIGHTS "Team" "bob@example.org" "" l r s w i p k x t e a c d\r\na8 OK LISTRIGHTS completed\r\n');
    assert.equal(await alice.command("a9", "LISTRIGHTS Team alice@example.org"), '* LISTRIGHTS "Team" "alice@example.org" "lrswipkxteacd"\r\na9 OK LISTRIGHTS completed\r\n');
    assert.equal(await alice.command("a10", "MYRIGHTS Team"), '* MYRIGHTS "Team" lrswipkxteacd\r\na10 OK MYRIGHTS completed\r\n');
    // Errors: an unknown right is BAD (§3.1); unknown identifiers, the owner, negative rights, groups: NO.
    assert.match(await alice.command("e1", "SETACL Team bob@example.org lrz"), /e1 BAD/);
    assert.match(await alice.command("e2", "SETACL Team nobody@example.org lr"), /e2 NO .*no such identifier/);
    assert.match(await alice.command("e3", "SETACL Team alice@example.org lr"), /e3 NO \[CANNOT\]/);
    assert.match(await alice.command("e4", "SETACL Team -bob@example.org w"), /e4 NO \[CANNOT\]/);
    assert.match(await alice.command("e5", "SETACL Team $staff lr"), /e5 NO .*groups are not supported/);
    assert.match(await alice.command("e6", "GETACL Nowhere"), /e6 NO \[NONEXISTENT\]/);
    assert.match(await alice.command("e7", `SETACL Team "${"x".repeat(300)}" lr`), /e7 BAD/);
    assert.match(await alice.command("e8", "SETACL Team bob@example.org"), /e8 BAD/);
    assert.match(await alice.command("e9", 'SETACL Team "bob\x01@example.org" lr'), /e9 BAD/);
    assert.match(await alice.command("e10", "DELETEACL Team anyone"), /e10 OK/);
    assert.equal(await alice.command("a11", "GETACL Team"), '* ACL "Team" "alice@example.org" lrswipkxteacd "bob@example.org" lrs\r\na11 OK GETACL completed\r\n');
    alice.close();
  });

  it("bob sees the shared namespace in NAMESPACE and LIST (with MYRIGHTS), not what he may not look up", async () => {
    const bob = await login("bob");
    assert.match(await bob.command("n1", "NAMESPACE"), /^\* NAMESPACE \(\("" "\/"\)\) \(\("Shared\/" "\/"\)\) NIL\r\n/);
    const list = await bob.command("l1", 'LIST "" "*"');
    assert.ok(list.includes('* LIST (\\Noselect \\HasChildren) "/" "Shared"\r\n'), list);
    assert.ok(list.includes(`* LIST (\\Noselect \\HasChildren) "/" "${SHARED}"\r\n`), list);
    assert.ok(list.includes(`* LIST (\\HasNoChildren) "/" "${SHARED}/Team"\r\n`), list);
    assert.ok(!list.includes(`${SHARED}/INBOX`), "alice's INBOX is not shared");
    // % walks down the namespace level by level.
    assert.match(await bob.command("l2", 'LIST "" "%"'), /\* LIST \(\\Noselect \\HasChildren\) "\/" "Shared"\r\n/);
    assert.equal(await bob.command("l3", `LIST "" "Shared/%/%" RETURN (MYRIGHTS)`), `* LIST (\\HasNoChildren) "/" "${SHARED}/Team"\r\n* MYRIGHTS "${SHARED}/Team" lrs\r\nl3 OK LIST completed\r\n`);
    assert.equal(await bob.command("l4", `MYRIGHTS ${SHARED}/Team`), `* MYRIGHTS "${SHARED}/Team" lrs\r\nl4 OK MYRIGHTS completed\r\n`);
    // No rights at all: the mailbox is not revealed.
    assert.match(await bob.command("l5", `SELECT ${SHARED}/INBOX`), /l5 NO \[NONEXISTENT\]/);
    assert.match(await bob.command("l6", `STATUS ${SHARED}/INBOX (MESSAGES)`), /l6 NO \[NONEXISTENT\]/);
    assert.match(await bob.command("l7", `SELECT ${SHARED}`), /l7 NO \[NONEXISTENT\]/);
    assert.match(await bob.command("l8", "SELECT Shared/nobody@example.org/INBOX"), /l8 NO \[NONEXISTENT\]/);
    bob.close();
  });

  it("per-user \\Seen: bob's \\Seen is his own, other flags are shared; NOPERM for what lrs does not allow", async () => {
    const alice = await login("alice");
    assert.match(await alice.command("a1", "CREATE Seen"), /a1 OK/);
    await appendTo(alice, "a2", "Seen", "", "first");
    await appendTo(alice, "a3", "Seen", "\\Seen \\Flagged", "second");
    assert.match(await alice.command("a4", "SETACL Seen bob@example.org lrs"), /a4 OK/);
    const bob = await login("bob");
    const selected = await bob.command("b1", `SELECT ${SHARED}/Seen`);
    assert.match(selected, /\* 2 EXISTS/);
    // Only \Seen may be changed by bob ("s"), and nothing else: PERMANENTFLAGS says so.
    assert.match(selected, /\* OK \[PERMANENTFLAGS \(\\Seen\)\]/);
    assert.match(selected, /b1 OK \[READ-WRITE\]/);
    assert.equal(withoutRecent(await bob.command("b2", "FETCH 1:2 (FLAGS)")), "* 1 FETCH (FLAGS ())\r\n* 2 FETCH (FLAGS (\\Flagged))\r\nb2 OK FETCH completed\r\n");
    assert.match(withoutRecent(await bob.command("b3", "STORE 1 +FLAGS (\\Seen)")), /\* 1 FETCH \(UID 1 FLAGS \(\\Seen\)\)\r\nb3 OK/);
    assert.match(await bob.command("b4", "SEARCH UNSEEN"), /\* SEARCH 2\r\n/);
    // NOPERM (RFC 5530) for what bob's rights do not cover.
    assert.match(await bob.command("p1", "STORE 1 +FLAGS (\\Flagged)"), /p1 NO \[NOPERM\]/);
    assert.match(await bob.command("p2", "STORE 1 +FLAGS (\\Deleted)"), /p2 NO \[NOPERM\]/);
    // Some of the flags allowed: those change, the others are ignored (RFC 4314 §4 STORE SHOULD NOT fail).
    assert.match(withoutRecent(await bob.command("q1", "STORE 1 -FLAGS (\\Seen \\Flagged)")), /^\* 1 FETCH \(UID 1 FLAGS \(\)\)\r\nq1 OK/);
    assert.match(withoutRecent(await bob.command("q2", "STORE 1 +FLAGS (\\Seen \\Flagged)")), /^\* 1 FETCH \(UID 1 FLAGS \(\\Seen\)\)\r\nq2 OK/);
    // FLAGS (replace) with "s" only: bob's \Seen as asked, the mailbox's \Flagged kept, $Junk not added.
    assert.match(withoutRecent(await bob.command("q3", "STORE 2 FLAGS (\\Seen $Junk)")), /^\* 2 FETCH \(UID 2 FLAGS \(\\Flagged \\Seen\)\)\r\nq3 OK/);
    assert.match(withoutRecent(await bob.command("q4", "STORE 2 FLAGS ()")), /^\* 2 FETCH \(UID 2 FLAGS \(\\Flagged\)\)\r\nq4 OK/);
    assert.match(await bob.command("p3", "EXPUNGE"), /p3 NO \[NOPERM\]/);
    assert.match(await bob.command("p4", `COPY 1 ${SHARED}/Seen`), /p4 NO \[NOPERM\]/);
    assert.match(await bob.command("p5", `MOVE 1 INBOX`), /p5 NO \[NOPERM\]/);
    assert.match(await bob.command("p6", `CREATE ${SHARED}/Seen/Sub`), /p6 NO \[NOPERM\]/);
    assert.match(await bob.command("p7", `DELETE ${SHARED}/Seen`), /p7 NO \[NOPERM\]/);
    assert.match(await bob.command("p8", `GETACL ${SHARED}/Seen`), /p8 NO \[NOPERM\]/);
    assert.match(await bob.command("p9", `SETACL ${SHARED}/Seen bob@example.org lrswi`), /p9 NO \[NOPERM\]/);
    assert.match(await bob.command("p10", `RENAME ${SHARED}/Seen ${SHARED}/Other`), /p10 NO \[NOPERM\]/);
    assert.match(await bob.command("p11", `APPEND ${SHARED}/Seen {3+}\r\nhi\n`), /p11 NO \[NOPERM\]/);
    assert.match(await bob.command("p12", `CREATE ${SHARED}/New`), /p12 NO \[NOPERM\]/);
    // Copying out is reading: his own INBOX gets the message with his \Seen.
    assert.match(await bob.command("b5", "COPY 1:2 INBOX"), /b5 OK \[COPYUID/);
    // alice's flags are untouched; her \Seen is hers.
    assert.match(await alice.command("a5", "SELECT Seen"), /a5 OK/);
    assert.equal(withoutRecent(await alice.command("a6", "FETCH 1:2 (FLAGS)")), "* 1 FETCH (FLAGS ())\r\n* 2 FETCH (FLAGS (\\Flagged \\Seen))\r\na6 OK FETCH completed\r\n");
    assert.match(await alice.command("a7", "STATUS Seen (UNSEEN)"), /\* STATUS "Seen" \(UNSEEN 1\)/);
    assert.match(await bob.command("b6", `STATUS ${SHARED}/Seen (UNSEEN MESSAGES)`), new RegExp(`\\* STATUS "${SHARED}/Seen" \\(UNSEEN 1 MESSAGES 2\\)|\\* STATUS "${SHARED}/Seen" \\(MESSAGES 2 UNSEEN 1\\)`));
    assert.match(await bob.command("b7", "SELECT INBOX"), /b7 OK/);
    assert.equal(withoutRecent(await bob.command("b8", "FETCH 1:2 (FLAGS)")), "* 1 FETCH (FLAGS (\\Seen))\r\n* 2 FETCH (FLAGS (\\Flagged))\r\nb8 OK FETCH completed\r\n");
    alice.close();
    bob.close();
  });

  it("rights lrswitek: bob stores, expunges, appends, creates below and deletes what he made; read-only without write rights", async () => {
    const alice = await login("alice");
    assert.match(await alice.command("a1", "CREATE Work"), /a1 OK/);
    assert.match(await alice.command("a2", "SETACL Work bob@example.org lrswitekx"), /a2 OK/);
    assert.match(await alice.command("a3", "CREATE Library"), /a3 OK/);
    assert.match(await alice.command("a4", "SETACL Library bob@example.org lr"), /a4 OK/);
    const bob = await login("bob");
    await appendTo(bob, "b1", `${SHARED}/Work`, "\\Seen", "from bob");
    assert.match(await bob.command("b2", `SELECT ${SHARED}/Work`), /b2 OK \[READ-WRITE\]/);
    assert.match(await bob.command("b3", "STORE 1 +FLAGS (\\Deleted $Done)"), /b3 OK/);
    assert.match(await bob.command("b4", "EXPUNGE"), /\* 1 EXPUNGE\r\nb4 OK/);
    assert.match(await bob.command("b5", `CREATE ${SHARED}/Work/Sub`), /b5 OK/);
    // The new mailbox is alice's and starts with its parent's ACL.
    assert.match(await alice.command("a5", "GETACL Work/Sub"), /\* ACL "Work\/Sub" "alice@example.org" lrswipkxteacd "bob@example.org" lrswikxtecd\r\n/);
    assert.match(await bob.command("b6", `DELETE ${SHARED}/Work/Sub`), /b6 OK/);
    assert.match(await alice.command("a6", 'LIST "" "Work/*"'), /^a6 OK/);
    // Only "lr": opened read-only (RFC 4314 §4), PERMANENTFLAGS empty.
    const archive = await bob.command("b7", `SELECT ${SHARED}/Library`);
    assert.match(archive, /b7 OK \[READ-ONLY\]/);
    assert.match(archive, /PERMANENTFLAGS \(\)/);
    alice.close();
    bob.close();
  });

  it("REPLACE needs t and e on the source and i on the target, whose rights filter the flags (RFC 4314 §4, RFC 8508)", async () => {
    const alice = await login("alice");
    assert.match(await alice.command("a1", "CREATE Replace"), /a1 OK/);
    await appendTo(alice, "a2", "Replace", "", "one");
    await appendTo(alice, "a3", "Replace", "", "two");
    assert.match(await alice.command("a4", "SETACL Replace bob@example.org lrw"), /a4 OK/);
    assert.match(await alice.command("a5", "CREATE Drop"), /a5 OK/);
    assert.match(await alice.command("a6", "SETACL Drop bob@example.org lri"), /a6 OK/);
    const bob = await login("bob");
    // "w" alone opens read-write, but REPLACE expunges: refused, alice's message stays.
    assert.match(await bob.command("b1", `SELECT ${SHARED}/Replace`), /b1 OK \[READ-WRITE\]/);
    const message = "From: bob@example.org\r\nSubject: replaced\r\n\r\nreplaced\r\n";
    assert.match(await bob.command("b2", `REPLACE 1 INBOX {${message.length}+}\r\n${message}`), /b2 NO \[NOPERM\]/);
    assert.match(await alice.command("a7", "STATUS Replace (MESSAGES)"), /\(MESSAGES 2\)/);
    // From bob's own mailbox into one where he may only insert: the flags he may not set are left off.
    assert.match(await bob.command("b3", "SELECT INBOX"), /b3 OK/);
    await appendTo(bob, "b4", "INBOX", "", "draft");
    assert.match(await bob.command("b5", `UID REPLACE * ${SHARED}/Drop (\\Seen \\Deleted \\Flagged $Junk) {${message.length}+}\r\n${message}`), /b5 OK/);
    assert.match(await alice.command("a8", "SELECT Drop"), /a8 OK/);
    assert.equal(withoutRecent(await alice.command("a9", "FETCH 1:* (FLAGS)")), "* 1 FETCH (FLAGS ())\r\na9 OK FETCH completed\r\n");
    alice.close();
    bob.close();
  });

  it("COPY and MOVE into a shared mailbox store only the flags the user may set (RFC 4314 §4)", async () => {
    const alice = await login("alice");
    assert.match(await alice.command("a1", "CREATE Inbound"), /a1 OK/);
    assert.match(await alice.command("a2", "SETACL Inbound bob@example.org lri"), /a2 OK/);
    const bob = await login("bob");
    assert.match(await bob.command("b1", "CREATE Outgoing"), /b1 OK/);
    await appendTo(bob, "b2", "Outgoing", "\\Seen \\Deleted \\Flagged $Junk", "first");
    await appendTo(bob, "b3", "Outgoing", "\\Seen \\Deleted \\Flagged $Junk", "second");
    assert.match(await bob.command("b4", "SELECT Outgoing"), /b4 OK/);
    // "i" alone: the copy comes without any flag.
    assert.match(await bob.command("b5", `COPY 1 ${SHARED}/Inbound`), /b5 OK \[COPYUID/);
    // "t" and "w" but not "s": \Deleted and the others stay, \Seen (bob's, and never alice's) does not.
    assert.match(await alice.command("a3", "SETACL Inbound bob@example.org lritwe"), /a3 OK/);
    assert.match(await bob.command("b6", `MOVE 2 ${SHARED}/Inbound`), /b6 OK/);
    assert.match(await alice.command("a4", "SELECT Inbound"), /a4 OK/);
    assert.equal(withoutRecent(await alice.command("a5", "FETCH 1:* (FLAGS)")), "* 1 FETCH (FLAGS ())\r\n* 2 FETCH (FLAGS (\\Deleted \\Flagged $Junk))\r\na5 OK FETCH completed\r\n");
    alice.close();
    bob.close();
  });

  it("IDLE and CONDSTORE across accounts: alice's changes reach bob; a revoke takes effect at bob's next command", async () => {
    const alice = await login("alice");
    assert.match(await alice.command("a1", "CREATE Live"), /a1 OK/);
    await appendTo(alice, "a2", "Live", "", "one");
    assert.match(await alice.command("a3", "SETACL Live bob@example.org lrs"), /a3 OK/);
    const bob = await login("bob");
    const selected = await bob.command("b1", `SELECT ${SHARED}/Live (CONDSTORE)`);
    const modseq = Number(/HIGHESTMODSEQ (\d+)/.exec(selected)?.[1]);
    assert.ok(modseq > 0, selected);
    bob.send("b2 IDLE\r\n");
    await bob.until((t) => t.includes("+ "));
    bob.take();
    await appendTo(alice, "a4", "Live", "", "two");
    await bob.until((t) => t.includes("* 2 EXISTS"), 10_000);
    assert.match(await alice.command("a5", "SELECT Live"), /a5 OK/);
    assert.match(await alice.command("a6", "STORE 1 +FLAGS (\\Flagged)"), /a6 OK/);
    await bob.until((t) => /\* 1 FETCH \(UID 1 FLAGS \(\\Flagged\) MODSEQ \(\d+\)\)/.test(withoutRecent(t)), 10_000);
    bob.send("DONE\r\n");
    await bob.until((t) => /b2 OK/.test(t));
    bob.take();
    // CHANGEDSINCE sees alice's changes under the mailbox's modseqs.
    const changed = withoutRecent(await bob.command("b3", `FETCH 1:* (FLAGS) (CHANGEDSINCE ${modseq})`));
    assert.match(changed, /\* 1 FETCH \(FLAGS \(\\Flagged\) MODSEQ \(\d+\)\)/);
    assert.match(changed, /\* 2 FETCH \(FLAGS \(\) MODSEQ \(\d+\)\)/);
    // bob's own \Seen moves the message's modseq too.
    const stored = await bob.command("b4", "STORE 2 +FLAGS (\\Seen)");
    const seenModseq = Number(/MODSEQ \((\d+)\)/.exec(stored)?.[1]);
    assert.match(withoutRecent(await bob.command("b5", `FETCH 1:* (FLAGS) (CHANGEDSINCE ${seenModseq - 1})`)), /^\* 2 FETCH \(FLAGS \(\\Seen\) MODSEQ \(\d+\)\)\r\nb5 OK/);
    // Revoked while bob has the mailbox selected: his next command is refused, LIST forgets it.
    assert.match(await alice.command("a7", "DELETEACL Live bob@example.org"), /a7 OK/);
    assert.match(await bob.command("b6", "FETCH 1 (FLAGS)"), /b6 NO \[NOPERM\]/);
    assert.ok(!(await bob.command("b7", 'LIST "" "*"')).includes("Live"));
    assert.match(await bob.command("b8", `SELECT ${SHARED}/Live`), /b8 NO \[NONEXISTENT\]/);
    alice.close();
    bob.close();
  });

  it("a revoke closes the selected shared mailbox: NOOP, STATUS, IDLE and NOTIFY get nothing more about it", async () => {
    const alice = await login("alice");
    assert.match(await alice.command("a1", "CREATE Gone"), /a1 OK/);
    await appendTo(alice, "a2", "Gone", "", "one");
    assert.match(await alice.command("a3", "SETACL Gone bob@example.org lr"), /a3 OK/);
    const bob = await login("bob");
    assert.match(await bob.command("b1", `SELECT ${SHARED}/Gone`), /\* 1 EXISTS/);
    assert.match(await alice.command("a4", "DELETEACL Gone bob@example.org"), /a4 OK/);
    await appendTo(alice, "a5", "Gone", "\\Flagged", "two, after the revoke");
    assert.match(await alice.command("a6", "SELECT Gone"), /a6 OK/);
    assert.match(await alice.command("a7", "STORE 1 +FLAGS (\\Answered)"), /a7 OK/);
    // The next command finds the mailbox closed by the server, and nothing about its messages.
    assert.equal(await bob.command("b2", "NOOP"), "* OK [CLOSED] access to the selected mailbox was withdrawn\r\nb2 OK NOOP completed\r\n");
    await appendTo(alice, "a8", "Gone", "", "three");
    assert.match(await bob.command("b3", "STATUS INBOX (MESSAGES)"), /^\* STATUS "INBOX" \(MESSAGES \d+\)\r\nb3 OK [^\r\n]*\r\n$/);
    assert.match(await bob.command("b4", "CHECK"), /^b4 BAD/);
    assert.match(await bob.command("b5", "FETCH 1 (FLAGS)"), /^b5 BAD/);

    // In IDLE: the owner's next change closes the mailbox, before anything about it is sent.
    assert.match(await alice.command("a9", "SETACL Gone bob@example.org lr"), /a9 OK/);
    assert.match(await bob.command("b6", `SELECT ${SHARED}/Gone`), /\* 3 EXISTS/);
    bob.send("b7 IDLE\r\n");
    await bob.until((t) => t.includes("+ "));
    bob.take();
    assert.match(await alice.command("a10", "DELETEACL Gone bob@example.org"), /a10 OK/);
    await appendTo(alice, "a11", "Gone", "", "four");
    await bob.until((t) => t.includes("* OK [CLOSED]"), 10_000);
    assert.match(await alice.command("a12", "STORE 1:* +FLAGS (\\Flagged)"), /a12 OK/);
    await appendTo(alice, "a13", "Gone", "", "five");
    bob.send("DONE\r\n");
    await bob.until((t) => /b7 OK/.test(t));
    assert.match(bob.take(), /^\* OK \[CLOSED\] access to the selected mailbox was withdrawn\r\nb7 OK [^\r\n]*\r\n$/);
    assert.equal(await bob.command("b8", "NOOP"), "b8 OK NOOP completed\r\n");

    // With NOTIFY (RFC 5465) the owner's changes are pushed between commands: the first one after
    // the revoke closes the mailbox instead, and nothing of it is pushed.
    assert.match(await alice.command("a14", "SETACL Gone bob@example.org lr"), /a14 OK/);
    assert.match(await bob.command("b9", "NOTIFY SET (selected (MessageNew (UID) MessageExpunge FlagChange))"), /b9 OK/);
    assert.match(await bob.command("b10", `SELECT ${SHARED}/Gone`), /\* 5 EXISTS/);
    await appendTo(alice, "a15", "Gone", "", "six, still shared");
    await bob.until((t) => t.includes("* 6 EXISTS"), 10_000);
    bob.take();
    assert.match(await alice.command("a16", "DELETEACL Gone bob@example.org"), /a16 OK/);
    await appendTo(alice, "a17", "Gone", "", "seven");
    await bob.until((t) => t.includes("* OK [CLOSED]"), 10_000);
    assert.equal(bob.take(), "* OK [CLOSED] access to the selected mailbox was withdrawn\r\n");
    await appendTo(alice, "a18", "Gone", "", "eight");
    assert.equal(await bob.command("b11", "NOOP"), "b11 OK NOOP completed\r\n");
    alice.close();
    bob.close();
  });

  it("python imaplib: MYRIGHTS, GETACL, LIST, SELECT and per-user \\Seen", async () => {
    const alice = await login("alice");
    assert.match(await alice.command("a1", "CREATE Py"), /a1 OK/);
    await appendTo(alice, "a2", "Py", "", "for python");
    alice.close();
    const out = await runPython(
      `
import imaplib, sys
port = int(sys.argv[1])
a = imaplib.IMAP4("127.0.0.1", port)
a.login("alice@example.org", "alice-pass")
typ, data = a.setacl("Py", "bob@example.org", "lrsw")
assert typ == "OK", data
typ, data = a.getacl("Py")
print("getacl", data[0].decode().replace('"', ''))
b = imaplib.IMAP4("127.0.0.1", port)
b.login("bob@example.org", "bob-pass")
typ, data = b.myrights('"Shared/alice@example.org/Py"')
print("myrights", data[0].decode().replace('"', ''))
typ, data = b.list('""', '"Shared/*"')
print("list", sorted(d.decode() for d in data))
typ, data = b.select('"Shared/alice@example.org/Py"')
print("select", typ, data[0].decode())
typ, data = b.fetch("1", "(BODY[HEADER.FIELDS (SUBJECT)])")
print("fetched", data[0][1].decode().strip())
typ, data = b.fetch("1", "(FLAGS)")
print("bobflags", data[0].decode())
typ, data = a.select("Py")
typ, data = a.fetch("1", "(FLAGS)")
print("aliceflags", data[0].decode())
typ, data = b.getacl('"Shared/alice@example.org/Py"')
print("bobgetacl", typ, data[0].decode())
`,
      [String(h.ports.imap)],
    );
    assert.match(out, /getacl Py alice@example\.org lrswipkxteacd bob@example\.org lrsw/);
    assert.match(out, /myrights Shared\/alice@example\.org\/Py lrsw/);
    assert.match(out, /"Shared\/alice@example\.org\/Py"/);
    assert.match(out, /select OK 1/);
    assert.match(out, /fetched Subject: for python/);
    // BODY[] without PEEK set bob's \Seen, not alice's.
    assert.match(out, /bobflags 1 \(FLAGS \(\\Seen( \\Recent)?\)\)/);
    assert.match(out, /aliceflags 1 \(FLAGS \(\)\)/);
    assert.match(out, /bobgetacl NO \[NOPERM\]/);
  });

  it("imapflow: lists the shared folder through NAMESPACE, opens it and reads the message", async () => {
    const alice = await login("alice");
    assert.match(await alice.command("a1", "CREATE Flow"), /a1 OK/);
    await appendTo(alice, "a2", "Flow", "\\Flagged", "for imapflow");
    assert.match(await alice.command("a3", "SETACL Flow bob@example.org lr"), /a3 OK/);
    alice.close();
    const flow = new ImapFlow({ host: "127.0.0.1", port: h.ports.imap, secure: false, auth: { user: "bob@example.org", pass: "bob-pass" }, tls: { rejectUnauthorized: false }, logger: false });
    await flow.connect();
    try {
      const folders = await flow.list();
      const shared = folders.find((f) => f.path === `${SHARED}/Flow`);
      assert.ok(shared, folders.map((f) => f.path).join(", "));
      const lock = await flow.getMailboxLock(`${SHARED}/Flow`);
      try {
        assert.equal(flow.mailbox && typeof flow.mailbox === "object" ? flow.mailbox.readOnly : undefined, true);
        const subjects: (string | undefined)[] = [];
        for await (const m of flow.fetch("1:*", { envelope: true, flags: true })) subjects.push(`${m.envelope?.subject} ${[...(m.flags ?? [])].join(",")}`);
        assert.deepEqual(subjects, ["for imapflow \\Flagged"]);
      } finally {
        lock.release();
      }
    } finally {
      await flow.logout();
    }
  });
});

describe("IMAP quota of a shared mailbox (RFC 9208 with RFC 4314)", () => {
  let h: ImapHarness;
  before(async () => {
    h = await startImapHarness({ store: { quota: { storageBytes: 0, messages: 0, warningPercent: 0 } }, quotaWarningPercent: 0 });
    await h.temp.store.setQuotaLimits("alice@example.org", { storageBytes: 100 * 1024, messages: 1 });
  });
  after(() => h.stop());

  it("is the owner's: GETQUOTAROOT names Shared/<owner>, GETQUOTA answers it, and bob's APPEND counts against alice", async () => {
    const alice = await RawImapClient.open(h.ports.imap);
    assert.match(await alice.command("l0", "LOGIN alice@example.org alice-pass"), /l0 OK/);
    assert.match(await alice.command("a1", "SETACL INBOX bob@example.org lri"), /a1 OK/);
    const bob = await RawImapClient.open(h.ports.imap);
    assert.match(await bob.command("l0", "LOGIN bob@example.org bob-pass"), /l0 OK/);
    assert.equal(
      await bob.command("q1", `GETQUOTAROOT ${SHARED}/INBOX`),
      `* QUOTAROOT "${SHARED}/INBOX" "${SHARED}"\r\n* QUOTA "${SHARED}" (STORAGE 0 100 MESSAGE 0 1)\r\nq1 OK GETQUOTAROOT completed\r\n`,
    );
    const message = "Subject: from bob\r\n\r\nhello\r\n";
    assert.match(await bob.command("b1", `APPEND ${SHARED}/INBOX {${message.length}+}\r\n${message}`), /b1 OK/);
    assert.match(await bob.command("q2", `GETQUOTA "${SHARED}"`), /\* QUOTA "Shared\/alice@example\.org" \(STORAGE 0 100 MESSAGE 1 1\)/);
    // bob's own account has no limit: no root of his own.
    assert.equal(await bob.command("q3", "GETQUOTAROOT INBOX"), '* QUOTAROOT "INBOX"\r\nq3 OK GETQUOTAROOT completed\r\n');
    // alice's MESSAGE limit is reached: a second message from bob is over her quota.
    assert.match(await bob.command("b2", `APPEND ${SHARED}/INBOX {${message.length}+}\r\n${message}`), /b2 NO \[OVERQUOTA\]/);
    assert.match(await bob.command("q4", 'GETQUOTA "Shared/nobody@example.org"'), /q4 NO \[NONEXISTENT\]/);
    alice.close();
    bob.close();
  });

  it("MYRIGHTS and GETQUOTAROOT need one of l r i k x a: s, w, t or e alone do not reveal the mailbox (RFC 4314 §4)", async () => {
    const alice = await RawImapClient.open(h.ports.imap);
    assert.match(await alice.command("l0", "LOGIN alice@example.org alice-pass"), /l0 OK/);
    assert.match(await alice.command("a1", "CREATE Blind"), /a1 OK/);
    assert.match(await alice.command("a2", "SETACL Blind bob@example.org swte"), /a2 OK/);
    assert.match(await alice.command("a3", "CREATE Slot"), /a3 OK/);
    assert.match(await alice.command("a4", "SETACL Slot bob@example.org i"), /a4 OK/);
    const bob = await RawImapClient.open(h.ports.imap);
    assert.match(await bob.command("l0", "LOGIN bob@example.org bob-pass"), /l0 OK/);
    assert.equal(await bob.command("m1", `MYRIGHTS ${SHARED}/Blind`), "m1 NO [NONEXISTENT] no such mailbox\r\n");
    assert.equal(await bob.command("m2", `GETQUOTAROOT ${SHARED}/Blind`), "m2 NO [NONEXISTENT] no such mailbox\r\n");
    assert.equal(await bob.command("m3", `MYRIGHTS ${SHARED}/Slot`), `* MYRIGHTS "${SHARED}/Slot" i\r\nm3 OK MYRIGHTS completed\r\n`);
    assert.match(await bob.command("m4", `GETQUOTAROOT ${SHARED}/Slot`), /^\* QUOTAROOT "Shared\/alice@example\.org\/Slot" "Shared\/alice@example\.org"\r\n/);
    alice.close();
    bob.close();
  });
});
