// `mailroom store copy --from <data-dir> --to postgres://...` as an operator runs it: an embedded
// store with accounts, aliases, nested mailboxes, flagged messages with trace prefixes, an
// expunged UID and a Sieve script is copied into an empty PostgreSQL database; afterwards the
// PostgreSQL store answers as the SQLite one did (UIDVALIDITY, UIDs, flags, dates, bytes,
// VANISHED for the expunged UID), with the auth state of issue 22 (SCRAM keys, TOTP, app passwords,
// admins with their TOTP and tokens, WebAuthn credentials), and a second copy into the same database is refused. Then the
// database is copied back into a new data dir, which answers as the original store did.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { openPostgresStore } from "../../src/store/postgresql/postgresql-store.js";
import { openSqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import type { Readable } from "node:stream";
import type { AccountStore, AuthStateStore, MailStore, ModSeq, WebAuthStore } from "../../src/store/index.js";
import { runMailroom } from "../harness/mailroom-process.js";
import { postgresUnavailable, startPostgres, type PostgresCluster } from "../harness/postgres.js";

const skip = postgresUnavailable() ?? false;
let cluster: PostgresCluster;
before(async () => {
  if (!skip) cluster = await startPostgres();
});
after(async () => {
  await cluster?.stop();
});

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

async function snapshot(mail: MailStore, accounts: { listAccounts(): Promise<{ id: never; address: string; passwordHash: string }[]> }) {
  const out: unknown[] = [];
  for (const account of await accounts.listAccounts()) {
    out.push(account.address, account.passwordHash, await mail.listSubscriptions(account.id));
    for (const mailbox of await mail.listMailboxes(account.id)) {
      out.push([mailbox.name, mailbox.specialUse, mailbox.uidValidity, mailbox.uidNext, mailbox.highestModSeq]);
      const summaries = await mail.listMessages(mailbox.id);
      for (const message of await mail.getMessages(mailbox.id, summaries.map((s) => s.uid))) {
        out.push([message.uid, message.modseq, message.flags, message.internalDate.getTime(), message.size, message.prefixLength, message.envelope.subject, (await readAll(mail.openMessage(message))).toString("base64")]);
      }
    }
  }
  return out;
}

/** Everything of issue 22's state, with the account ids (which differ between stores) left out. */
async function authSnapshot(store: AccountStore & AuthStateStore & WebAuthStore): Promise<unknown> {
  const alice = (await store.findAccountByAddress("alice@example.org"))!;
  const strip = <T extends { id: number }>(row: T) => ({ ...row, id: 0 });
  return {
    state: await store.getAccountAuth(alice.id),
    apps: (await store.listAppPasswords(alice.id)).map((a) => ({ ...strip(a), accountId: 0 })),
    admins: await store.listAdminUsers(),
    adminTotp: await store.getAdminTotp("root"),
    tokens: (await store.listApiTokens()).map(strip),
    adminKeys: (await store.listWebAuthnCredentials({ kind: "admin", name: "root" })).map(strip),
    aliceKeys: (await store.listWebAuthnCredentials({ kind: "account", accountId: alice.id })).map((c) => ({ ...strip(c), owner: "alice" })),
  };
}

test("store copy moves an embedded store into PostgreSQL and back with UIDs, flags and bytes, verified; a non-empty target is refused", { skip, timeout: 120_000 }, async () => {
  const dataDir = await mkdtemp(join(tmpdir(), "mailroom-copy-"));
  const backDir = join(await mkdtemp(join(tmpdir(), "mailroom-copy-back-")), "data");
  try {
    const source = await openSqliteStore({ dataDir });
    await source.addDomain("example.org");
    const alice = await source.createAccount({ address: "alice@example.org", passwordHash: "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g", quotaBytes: 10_000_000 });
    const bob = await source.createAccount({ address: "bob@example.org", passwordHash: "$argon2id$bob" });
    await source.addAlias("postmaster@example.org", ["alice@example.org", "bob@example.org"]);
    const inbox = (await source.getMailbox(alice.id, "INBOX"))!;
    const nested = await source.createMailbox(alice.id, "Projects/2026", { subscribed: true });
    const big = Buffer.concat([Buffer.from("Subject: big one\r\n\r\n"), Buffer.alloc(600_000, 0x61), Buffer.from("\r\n")]);
    const delivered = await source.deliver({
      source: big,
      targets: [{ mailboxId: inbox.id, prefix: Buffer.from("Received: by mx; Mon, 1 Jan 2024 00:00:00 +0000\r\n") }, { mailboxId: (await source.getMailbox(bob.id, "INBOX"))!.id, flags: ["$Label1"] }],
      internalDate: new Date("2024-01-01T00:00:00Z"),
    });
    const gone = await source.append(inbox.id, Buffer.from("Subject: gone\r\n\r\nx\r\n"));
    await source.append(inbox.id, Buffer.from("Subject: =?UTF-8?Q?K=C3=A4se?=\r\n\r\nkept\r\n"), { flags: ["\\Seen", "$Work"] });
    const nestedMessage = await source.append(nested.id, Buffer.from("Subject: nested\r\n\r\nnested\r\n"), { flags: ["\\Flagged"] });
    const beforeExpunge = (await source.mailboxStatus(inbox.id)).highestModSeq;
    await source.removeMessages(inbox.id, [gone.uid]);
    await source.putSieveScript(alice.id, "main", 'require "fileinto";\r\nfileinto "Projects/2026";\r\n', 10);
    await source.setActiveSieveScript(alice.id, "main");
    const tlsReport = { organization: "Reporter Inc.", reportId: "r-1", contact: null, start: new Date("2026-11-30T00:00:00Z"), end: new Date("2026-11-30T23:59:59Z"), policies: [{ policyType: "sts", policyDomain: "example.org", successfulSessions: 10, failedSessions: 1, failures: [{ resultType: "starttls-not-supported", sendingMtaIp: "192.0.2.1", receivingMxHostname: "mx.example.org", failedSessionCount: 1 }] }] };
    await source.addTlsReport(tlsReport, new Date("2026-12-01T06:00:00Z"));
    // RFC 5464 METADATA: a mailbox's shared and private entries and a server entry.
    const metadataLimits = { maxEntriesPerMailbox: 10, maxAccountBytes: 10_000 };
    await source.setMetadata(alice.id, nested.id, [{ name: "/shared/comment", value: Buffer.from("team") }, { name: "/private/color", value: Buffer.from([0, 255]) }], metadataLimits);
    await source.setMetadata(alice.id, null, [{ name: "/private/vendor/x/motd", value: Buffer.from("hi") }], metadataLimits);
    // RFC 4314: alice shares Projects/2026 with bob, who has seen its message; INBOX is listed to anyone.
    await source.setAcl(nested.id, "bob@example.org", "lrs");
    await source.setAcl(inbox.id, "anyone", "l");
    await source.updatePrivateSeen(nested.id, bob.id, [nestedMessage.uid], true);
    // Auth state (issue 22): SCRAM keys, TOTP and settings, an app password used once, an admin
    // with TOTP and a token, WebAuthn credentials of the admin and of alice.
    await source.updateAccountAuth(alice.id, { scramSalt: "c2FsdHNhbHQ=", scramIterations: 4096, scramKeys: "keys-of-alice", scramHashTag: "tag", appPasswordsOnly: true, totp: '{"v":1}', lockoutNoticeAt: 1234 });
    const phone = await source.addAppPassword(alice.id, { name: "phone", protocols: ["imap", "smtp"], secretHash: "a".repeat(64), scramKeys: "app-keys" });
    await source.noteAppPasswordUse(phone.id, new Date("2026-11-30T10:00:00Z"), "192.0.2.7");
    await source.addAdminUser("root", "$argon2id$root", new Date("2026-01-02T00:00:00Z"));
    await source.setAdminTotp("root", '{"v":1,"admin":true}');
    const token = await source.addApiToken({ name: "ci", admin: "root", tokenHash: "b".repeat(64), createdAt: new Date("2026-01-03T00:00:00Z"), expiresAt: null });
    await source.markApiTokenUsed(token.id, new Date("2026-01-04T00:00:00Z"));
    await source.addWebAuthnCredential({ owner: { kind: "admin", name: "root" }, credentialId: "cred-root", publicKey: "pk-root", signCount: 3, transports: ["usb"], name: "key", createdAt: new Date("2026-01-05T00:00:00Z") });
    const alicePasskey = await source.addWebAuthnCredential({ owner: { kind: "account", accountId: alice.id }, credentialId: "cred-alice", publicKey: "pk-alice", signCount: 0, transports: ["internal"], name: "laptop", createdAt: new Date("2026-01-06T00:00:00Z") });
    await source.useWebAuthnCredential(alicePasskey.id, 0, 9, new Date("2026-01-07T00:00:00Z"));
    const expectedAuth = await authSnapshot(source);
    const expected = await snapshot(source, source as never);
    await source.close();
    assert.equal(delivered.copies.length, 2);

    const url = await cluster.createDatabase("copy");
    const copy = await runMailroom(["store", "copy", "--from", dataDir, "--to", url], { timeoutMs: 60_000 });
    assert.equal(copy.code, 0, copy.stderr);
    assert.match(copy.stdout, /verified alice@example\.org\/INBOX: 2 messages, sha256 [0-9a-f]{16}/);
    assert.match(copy.stdout, /2 account\(s\), 1 alias\(es\), 14 mailbox\(es\), 4 message\(s\) .* 1 Sieve script\(s\), 1 expunge tombstone\(s\), 1 TLS report\(s\), 3 METADATA entr\(y\/ies\), 2 ACL entr\(y\/ies\), .*; counts and checksums match/);
    assert.match(copy.stderr, /messages copied: 4\/4 done/, "progress on stderr");

    assert.match(copy.stdout, /1 account auth state\(s\), 1 app password\(s\), 1 admin\(s\), 1 API token\(s\), 2 WebAuthn credential\(s\)/);
    const target = await openPostgresStore({ url });
    try {
      assert.deepEqual(await snapshot(target, target as never), expected, "the same mailboxes, UIDs, flags, dates and bytes");
      assert.deepEqual(await authSnapshot(target), expectedAuth, "auth state, app passwords, admins, tokens and passkeys come along");
      const copiedAlice = (await target.findAccountByAddress("alice@example.org"))!;
      assert.equal(copiedAlice.quotaBytes, 10_000_000);
      assert.equal(copiedAlice.usedBytes, (await target.listMessages((await target.getMailbox(copiedAlice.id, "INBOX"))!.id)).reduce((n, m) => n + m.size, 0) + (await target.listMessages((await target.getMailbox(copiedAlice.id, "Projects/2026"))!.id)).reduce((n, m) => n + m.size, 0));
      const copiedInbox = (await target.getMailbox(copiedAlice.id, "INBOX"))!;
      assert.deepEqual((await target.changesSince(copiedInbox.id, beforeExpunge as ModSeq)).expunged, [gone.uid], "QRESYNC is told the expunged UID vanished");
      assert.equal((await target.getActiveSieveScript(copiedAlice.id))?.name, "main");
      assert.deepEqual(await target.listTlsReports(new Date(0), 10), [{ ...tlsReport, receivedAt: new Date("2026-12-01T06:00:00Z") }], "TLS reports come along");
      const copiedNested = (await target.getMailbox(copiedAlice.id, nested.name))!;
      assert.deepEqual(await target.getMetadata(copiedAlice.id, copiedNested.id), [{ name: "/private/color", value: Buffer.from([0, 255]) }, { name: "/shared/comment", value: Buffer.from("team") }], "METADATA entries come along");
      assert.deepEqual(await target.getMetadata(copiedAlice.id, null), [{ name: "/private/vendor/x/motd", value: Buffer.from("hi") }]);
      const copiedBob = (await target.findAccountByAddress("bob@example.org"))!;
      assert.deepEqual(await target.getAcl(copiedNested.id), [{ identifier: "bob@example.org", rights: "lrs" }], "ACL entries come along");
      assert.deepEqual(await target.getAcl(copiedInbox.id), [{ identifier: "anyone", rights: "l" }]);
      assert.deepEqual(await target.getPrivateSeen(copiedNested.id, copiedBob.id), [nestedMessage.uid], "so does bob's own \\Seen");
      assert.deepEqual(await target.findAlias("postmaster@example.org"), { address: "postmaster@example.org", targets: ["alice@example.org", "bob@example.org"] });
      assert.equal(await target.blobs.count(), 3, "three distinct messages: the one delivered to two accounts is stored once");
      assert.deepEqual((await target.findTextMatches(copiedInbox.id, "käse", "text")).matches, [3], "search works on the copy");
    } finally {
      await target.close();
    }

    const again = await runMailroom(["store", "copy", "--from", dataDir, "--to", url], { timeoutMs: 60_000 });
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already holds domains or accounts/);

    // And back: the database into a new data dir, answering as the original did.
    const back = await runMailroom(["store", "copy", "--from", url, "--to", backDir], { timeoutMs: 60_000 });
    assert.equal(back.code, 0, back.stderr);
    assert.match(back.stdout, /verified alice@example\.org\/INBOX: 2 messages, sha256 [0-9a-f]{16}/);
    assert.match(back.stdout, /-> .*: 1 domain\(s\), 2 account\(s\), 1 alias\(es\), 14 mailbox\(es\), 4 message\(s\) .* 1 Sieve script\(s\), 1 expunge tombstone\(s\), 1 TLS report\(s\), 3 METADATA entr\(y\/ies\), 2 ACL entr\(y\/ies\), .*; counts and checksums match/);
    const copiedBack = await openSqliteStore({ dataDir: backDir });
    try {
      assert.deepEqual(await snapshot(copiedBack, copiedBack as never), expected, "the same mailboxes, UIDs, flags, dates and bytes as the original");
      assert.deepEqual(await authSnapshot(copiedBack), expectedAuth, "and the auth state, back");
      const aliceBack = (await copiedBack.findAccountByAddress("alice@example.org"))!;
      assert.equal(aliceBack.quotaBytes, 10_000_000);
      const inboxBack = (await copiedBack.getMailbox(aliceBack.id, "INBOX"))!;
      assert.deepEqual((await copiedBack.changesSince(inboxBack.id, beforeExpunge as ModSeq)).expunged, [gone.uid], "QRESYNC is told the expunged UID vanished");
      assert.equal((await copiedBack.getActiveSieveScript(aliceBack.id))?.name, "main");
      const nestedBack = (await copiedBack.getMailbox(aliceBack.id, nested.name))!;
      assert.deepEqual(await copiedBack.getAcl(nestedBack.id), [{ identifier: "bob@example.org", rights: "lrs" }]);
      assert.deepEqual(await copiedBack.getPrivateSeen(nestedBack.id, (await copiedBack.findAccountByAddress("bob@example.org"))!.id), [nestedMessage.uid]);
      assert.deepEqual(await copiedBack.findAlias("postmaster@example.org"), { address: "postmaster@example.org", targets: ["alice@example.org", "bob@example.org"] });
      assert.deepEqual((await copiedBack.findTextMatches(inboxBack.id, "käse", "text")).matches, [3], "search works on the copy");
      // A new mailbox never repeats a copied UIDVALIDITY.
      const fresh = await copiedBack.createMailbox(aliceBack.id, "Fresh");
      assert.ok(fresh.uidValidity > Math.max(...(await copiedBack.listMailboxes(aliceBack.id)).filter((m) => m.name !== "Fresh").map((m) => m.uidValidity)));
    } finally {
      await copiedBack.close();
    }
    const backAgain = await runMailroom(["store", "copy", "--from", url, "--to", backDir], { timeoutMs: 60_000 });
    assert.equal(backAgain.code, 1);
    assert.match(backAgain.stderr, /already holds domains or accounts/);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
    await rm(backDir, { recursive: true, force: true });
  }
});
