// A PostgreSQL backup's table dump restored into an embedded store (server/backup.ts restore of a
// PostgreSQL backup into a SQLite data dir): the dump source read by copyStore, no PostgreSQL server.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { copyStore } from "../postgresql/import.js";
import { openSqliteStore } from "../sqlite/sqlite-store.js";
import type { MailboxId } from "../types.js";
import { DUMP_FORMAT } from "./dump-file.js";
import { openPostgresDumpSource } from "./postgresql-dump-source.js";

type Row = Record<string, unknown>;

async function writeDump(path: string, tables: [string, Row[]][]): Promise<void> {
  const lines: unknown[] = [{ format: DUMP_FORMAT, schemaVersion: 23, tables: tables.map(([name]) => name) }];
  for (const [table, rows] of tables) {
    lines.push({ table, columns: rows.length === 0 ? [] : Object.keys(rows[0]!) });
    for (const row of rows) lines.push({ row });
  }
  await writeFile(path, lines.map((l) => JSON.stringify(l)).join("\n") + "\n");
}

const MESSAGE = Buffer.from("From: a@example.com\r\nTo: alice@example.com\r\nSubject: hi\r\n\r\nhello\r\n");
const BLOB = createHash("sha256").update(MESSAGE).digest("hex");

function baseTables(): [string, Row[]][] {
  const account = (id: number, address: string): Row => ({ id, address, password_hash: `hash-${id}`, quota_bytes: null, used_bytes: 0, quota_messages: null, used_messages: 0, pop3_mode: "normal", pop3_mark_seen: false, pop3_login_delay: null, pop3_expire_days: null, created_at: 0 });
  const mailbox = (id: number, accountId: number, uidNext: number): Row => ({ id, account_id: accountId, name: "INBOX", special_use: null, uid_validity: 7 + id, uid_next: uidNext, highest_modseq: 2, first_recent_uid: uidNext });
  return [
    ["domains", [{ id: 1, name: "example.com", created_at: 0 }]],
    ["accounts", [account(10, "alice@example.com"), account(20, "bob@example.com"), account(30, "carol@example.com")]],
    ["mailboxes", [mailbox(100, 10, 3), mailbox(200, 20, 1), mailbox(300, 30, 1)]],
    [
      "messages",
      [1, 2].map((uid) => ({ mailbox_id: 100, uid, modseq: 2, flags: uid === 1 ? ["\\Seen"] : [], internal_date: 1_700_000_000_000, size: MESSAGE.length, blob_id: BLOB, prefix: "\\x" })),
    ],
    // Bob is granted lrs by id, and "anyone" l (grantee_id NULL); Bob has seen UID 2, Carol UID 1.
    ["mailbox_acl", [{ mailbox_id: 100, grantee_id: 20, rights: "lrs" }, { mailbox_id: 100, grantee_id: null, rights: "l" }]],
    ["private_seen", [{ mailbox_id: 100, account_id: 20, uid: 2 }, { mailbox_id: 100, account_id: 30, uid: 1 }]],
  ];
}

async function restore(tables: [string, Row[]][]) {
  const root = await mkdtemp(join(tmpdir(), "pg-dump-source-"));
  const blobDir = join(root, "blobs");
  await mkdir(blobDir);
  await writeFile(join(blobDir, BLOB), MESSAGE);
  await writeDump(join(root, "dump.jsonl"), tables);
  const source = await openPostgresDumpSource(join(root, "dump.jsonl"), blobDir);
  const target = await openSqliteStore({ dataDir: join(root, "data") });
  const report = await copyStore(source, target);
  return { root, source, target, report, cleanup: async () => (await target.close(), await rm(root, { recursive: true, force: true })) };
}

test("a PostgreSQL dump restores into an embedded store with its ACLs (grantee ids become addresses, NULL is anyone) and each user's \\Seen", async () => {
  const { target, report, cleanup } = await restore(baseTables());
  try {
    assert.equal(report.accounts, 3);
    assert.equal(report.messages, 2);
    assert.equal(report.aclEntries, 2);
    const alice = (await target.findAccountByAddress("alice@example.com"))!;
    const bob = (await target.findAccountByAddress("bob@example.com"))!;
    const carol = (await target.findAccountByAddress("carol@example.com"))!;
    const inbox = (await target.listMailboxes(alice.id)).find((m) => m.name === "INBOX")!;
    const acl = await target.getAcl(inbox.id as MailboxId);
    assert.deepEqual(
      acl.map((e) => `${e.identifier}=${e.rights}`).sort(),
      ["anyone=l", "bob@example.com=lrs"],
    );
    assert.deepEqual(await target.getPrivateSeen(inbox.id, bob.id), [2]);
    assert.deepEqual(await target.getPrivateSeen(inbox.id, carol.id), [1]);
  } finally {
    await cleanup();
  }
});

test("the restore carries account auth (SCRAM, TOTP, app passwords only), app passwords, admins with TOTP, API tokens, WebAuthn credentials and TLS reports, and names each table it leaves behind", async () => {
  const totp = JSON.stringify({ secret: "JBSWY3DPEHPK3PXP", lastStep: 5 });
  const policies = [{ policyType: "sts", policyDomain: "example.com", successfulSessions: 4, failedSessions: 1, failures: [] }];
  const { source, target, report, cleanup } = await restore([
    ...baseTables(),
    ["account_auth", [{ account_id: 10, scram_salt: "c2FsdA==", scram_iterations: 4096, scram_keys: '{"SCRAM-SHA-256":{"storedKey":"a","serverKey":"b"}}', scram_hash_tag: "tag", app_passwords_only: true, totp, lockout_notice_at: 1_700_000_000_500 }]],
    ["app_passwords", [{ id: 5, account_id: 10, name: "phone", protocols: "imap,smtp", secret_hash: "a".repeat(64), scram_keys: null, created_at: 1_700_000_000_000, last_used_at: 1_700_000_100_000, last_used_address: "192.0.2.7" }]],
    ["admin_users", [{ name: "root", password_hash: "adminhash", created_at: 1_600_000_000_000 }]],
    ["admin_auth", [{ name: "root", totp }]],
    ["api_tokens", [{ id: 3, name: "deploy", admin: "root", token_hash: "tokenhash", created_at: 1_650_000_000_000, expires_at: 1_900_000_000_000, last_used_at: 1_700_000_000_000 }]],
    [
      "webauthn_credentials",
      [
        { id: 1, admin_name: "root", account_id: null, credential_id: "cred-admin", public_key: "pk-admin", sign_count: 9, transports: "usb,nfc", name: "key", created_at: 1_650_000_000_000, last_used_at: 1_660_000_000_000 },
        { id: 2, admin_name: null, account_id: 20, credential_id: "cred-bob", public_key: "pk-bob", sign_count: 0, transports: "", name: "laptop", created_at: 1_650_000_000_000, last_used_at: null },
      ],
    ],
    ["tls_reports", [{ organization: "Example CA", report_id: "r-1", contact: "tlsrpt@example.net", start_at: 1_700_000_000_000, end_at: 1_700_086_400_000, policies, received_at: 1_700_090_000_000 }]],
    ["spam_tokens", [{ token: "a" }, { token: "b" }]],
    ["sieve_vacation", [{ account_id: 10 }]],
    ["queue", [{ id: 1 }]],
  ]);
  try {
    assert.equal(report.authStates, 1);
    assert.equal(report.appPasswords, 1);
    assert.equal(report.admins, 1);
    assert.equal(report.apiTokens, 1);
    assert.equal(report.webAuthnCredentials, 2);
    assert.equal(report.tlsReports, 1);
    const alice = (await target.findAccountByAddress("alice@example.com"))!;
    const bob = (await target.findAccountByAddress("bob@example.com"))!;
    assert.deepEqual(await target.getAccountAuth(alice.id), {
      scramSalt: "c2FsdA==",
      scramIterations: 4096,
      scramKeys: '{"SCRAM-SHA-256":{"storedKey":"a","serverKey":"b"}}',
      scramHashTag: "tag",
      appPasswordsOnly: true,
      totp,
      lockoutNoticeAt: 1_700_000_000_500,
    });
    assert.equal((await target.getAccountAuth(bob.id)).appPasswordsOnly, false);
    const [app] = await target.listAppPasswords(alice.id);
    assert.deepEqual([app!.name, app!.protocols, app!.secretHash, app!.lastUsedAt?.getTime(), app!.lastUsedAddress], ["phone", ["imap", "smtp"], "a".repeat(64), 1_700_000_100_000, "192.0.2.7"]);
    assert.deepEqual((await target.listAdminUsers()).map((a) => [a.name, a.passwordHash]), [["root", "adminhash"]]);
    assert.equal(await target.getAdminTotp("root"), totp);
    const [token] = await target.listApiTokens();
    assert.deepEqual([token!.name, token!.admin, token!.tokenHash, token!.expiresAt?.getTime(), token!.lastUsedAt?.getTime()], ["deploy", "root", "tokenhash", 1_900_000_000_000, 1_700_000_000_000]);
    const [adminKey] = await target.listWebAuthnCredentials({ kind: "admin", name: "root" });
    assert.deepEqual([adminKey!.credentialId, adminKey!.publicKey, adminKey!.signCount, adminKey!.transports], ["cred-admin", "pk-admin", 9, ["usb", "nfc"]]);
    const bobKeys = await target.listWebAuthnCredentials({ kind: "account", accountId: bob.id });
    assert.deepEqual(bobKeys.map((c) => [c.credentialId, c.name, c.lastUsedAt]), [["cred-bob", "laptop", null]], "an account's credential follows the account to its new id");
    const [tls] = await target.listTlsReports(new Date(0), 10);
    assert.deepEqual([tls!.organization, tls!.reportId, tls!.contact, tls!.receivedAt.getTime(), tls!.policies], ["Example CA", "r-1", "tlsrpt@example.net", 1_700_090_000_000, policies]);
    assert.deepEqual(
      source.notCarried.map((t) => `${t.table} ${t.rows}`),
      ["spam_tokens 2", "sieve_vacation 1", "queue 1"],
    );
  } finally {
    await cleanup();
  }
});
