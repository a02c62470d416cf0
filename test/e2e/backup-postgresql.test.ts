// `mailroom restore` with `[store] backend = "postgresql"`: a backup of an embedded store (taken by
// the real command, no server running: in-process under the owner lock) is restored into an empty
// PostgreSQL database of a throwaway cluster; the PostgreSQL store then has the same UIDVALIDITY,
// UIDs, flags, bytes, password hash and Sieve script, the DKIM keys are in the database (the
// PostgreSQL backend keeps them there: store/node-state-store.ts), and the temporary embedded store
// is gone. The other way: a backup of a PostgreSQL store restores into an empty data dir with no
// PostgreSQL server involved (the dump read as the source of store copy), with the same contents,
// aliases and METADATA, and the DKIM keys as files; a flipped byte in that archive fails the
// restore and leaves the data dir empty. (Backups of a PostgreSQL store under load:
// test/e2e/backup-postgresql-load.test.ts.)
import assert from "node:assert/strict";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { after, before, test } from "node:test";
import { generateDkimKeys, loadDkimKeys } from "../../src/mail-auth/index.js";
import { PostgresNodeState } from "../../src/store/postgresql/node-state.js";
import { openPostgresStore } from "../../src/store/postgresql/postgresql-store.js";
import { openSqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import type { AccountStore, MailStore, SieveStore } from "../../src/store/index.js";
import { makeScratch, runMailroom } from "../harness/mailroom-process.js";
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

async function contents(store: MailStore & AccountStore & SieveStore): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const account of await store.listAccounts()) {
    out.push(account.address, account.passwordHash, (await store.getActiveSieveScript(account.id))?.content ?? null);
    // By name: the backends list mailboxes in their own orders.
    for (const mailbox of (await store.listMailboxes(account.id)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      out.push([mailbox.name, mailbox.uidValidity, mailbox.uidNext]);
      const summaries = await store.listMessages(mailbox.id);
      for (const message of await store.getMessages(mailbox.id, summaries.map((s) => s.uid))) {
        out.push([message.uid, message.flags, message.internalDate.getTime(), (await readAll(store.openMessage(message))).toString("base64")]);
      }
    }
  }
  return out;
}

test("a backup of an embedded store restores into an empty PostgreSQL database", { skip, timeout: 180_000 }, async () => {
  const s = await makeScratch("");
  try {
    const source = await openSqliteStore({ dataDir: s.dataDir });
    await source.addDomain("example.org");
    const alice = await source.createAccount({ address: "alice@example.org", passwordHash: "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g" });
    const inbox = (await source.getMailbox(alice.id, "INBOX"))!;
    for (let i = 0; i < 30; i++) await source.append(inbox.id, Buffer.from(`Subject: ${i}\r\nMessage-ID: <${i}@x>\r\n\r\nbody ${i}\r\n`), { flags: i % 2 ? ["\\Seen", "$Label1"] : [] });
    await source.removeMessages(inbox.id, [3 as never]);
    await source.putSieveScript(alice.id, "main", 'require "fileinto"; if header :contains "subject" "x" { fileinto "Junk"; }', 10);
    await source.setActiveSieveScript(alice.id, "main");
    const expected = await contents(source);
    await source.close();
    const keys = await generateDkimKeys(join(s.dataDir, "dkim"), "example.org", "mailroom");

    const archive = join(s.dir, "b.tgz");
    const made = await runMailroom(["backup", archive], { env: s.env, timeoutMs: 60_000 });
    assert.equal(made.code, 0, made.stderr);

    const url = await cluster.createDatabase("restore");
    const pgConfig = join(s.dir, "pg.toml");
    await writeFile(pgConfig, `[store]\nbackend = "postgresql"\nurl = "${url}"\n`);
    const target = join(s.dir, "pg-data");
    const restored = await runMailroom(["--config", pgConfig, "--data-dir", target, "restore", archive], { timeoutMs: 120_000 });
    assert.equal(restored.code, 0, restored.stderr);
    assert.match(restored.stdout, /is in the PostgreSQL database/);
    assert.match(restored.stdout, /2 DKIM key\(s\) and 0 ACME certificate\(s\) moved into the database/);
    assert.deepEqual((await readdir(target)).filter((n) => n !== "mailroom.lock").sort(), [], "no key files and no embedded store left");

    const pg = await openPostgresStore({ url });
    try {
      assert.deepEqual(await contents(pg), expected);
      assert.deepEqual(await loadDkimKeys(new PostgresNodeState(pg.pool), "example.org"), keys, "the DKIM keys are in the database");
    } finally {
      await pg.close();
    }
  } finally {
    await s.cleanup();
  }
});

test("a backup of a PostgreSQL store restores into an empty data dir (embedded store)", { skip, timeout: 180_000 }, async () => {
  const s = await makeScratch("");
  try {
    const url = await cluster.createDatabase("toembedded");
    const pgConfig = join(s.dir, "pg.toml");
    await writeFile(pgConfig, `[store]\nbackend = "postgresql"\nurl = "${url}"\n`);
    const source = await openPostgresStore({ url });
    let expected: unknown[];
    let keys: Awaited<ReturnType<typeof generateDkimKeys>>;
    let aliases: unknown;
    try {
      await source.addDomain("example.org");
      const alice = await source.createAccount({ address: "alice@example.org", passwordHash: "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g" });
      await source.createAccount({ address: "bob@example.org", passwordHash: "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$b3RoZXJoYXNo" });
      const inbox = (await source.getMailbox(alice.id, "INBOX"))!;
      const archive = await source.createMailbox(alice.id, "Archive/2026 & más");
      for (let i = 0; i < 25; i++) await source.append(i % 5 === 0 ? archive.id : inbox.id, Buffer.from(`Subject: ${i}\r\nMessage-ID: <${i}@x>\r\n\r\nbody ${i} ${"x".repeat(i * 97)}\r\n`), { flags: i % 2 ? ["\\Seen", "$Label1"] : [] });
      // Delivered with a trace prefix, the same bytes twice (one blob, two prefixes).
      for (const mailbox of [inbox, archive]) await source.deliver({ source: Buffer.from("Subject: shared\r\n\r\nsame bytes\r\n"), targets: [{ mailboxId: mailbox.id, prefix: Buffer.from(`Return-Path: <x@y>\r\nX-Box: ${mailbox.name}\r\n`) }] });
      await source.removeMessages(inbox.id, [3 as never, 4 as never]);
      await source.putSieveScript(alice.id, "main", 'require "fileinto"; if header :contains "subject" "x" { fileinto "Junk"; }', 10);
      await source.setActiveSieveScript(alice.id, "main");
      await source.addAlias("info@example.org", ["alice@example.org", "bob@example.org"]);
      await source.setMetadata(alice.id, inbox.id, [{ name: "/private/comment", value: Buffer.from("kept") }], { maxEntriesPerMailbox: 10, maxAccountBytes: 10_000 });
      expected = await contents(source);
      aliases = await source.listAliases();
      keys = await generateDkimKeys(new PostgresNodeState(source.pool), "example.org", "mailroom");
    } finally {
      await source.close();
    }

    const file = join(s.dir, "pg.tgz");
    const made = await runMailroom(["--config", pgConfig, "--data-dir", join(s.dir, "pg-node"), "backup", file], { timeoutMs: 60_000 });
    assert.equal(made.code, 0, made.stderr);

    // A flipped byte: the restore fails on a checksum and leaves nothing behind.
    const damaged = join(s.dir, "damaged.tgz");
    const bytes = await readFile(file);
    const middle = Math.floor(bytes.length / 2);
    bytes[middle] = bytes[middle]! ^ 0x40;
    await writeFile(damaged, bytes);
    const refused = await runMailroom(["--data-dir", join(s.dir, "bad"), "restore", damaged], { env: s.env, timeoutMs: 120_000 });
    assert.notEqual(refused.code, 0, "a damaged archive is refused");
    assert.deepEqual(await readdir(join(s.dir, "bad")).catch(() => []), [], "nothing is left of the failed restore");

    const target = join(s.dir, "restored");
    const restored = await runMailroom(["--data-dir", target, "restore", file], { env: s.env, timeoutMs: 120_000 });
    assert.equal(restored.code, 0, restored.stderr);
    assert.match(restored.stdout, /now holds the store of PostgreSQL backup/);
    assert.match(restored.stdout, /verified alice@example\.org\/INBOX: 19 messages, sha256/);
    assert.match(restored.stdout, /2 DKIM key\(s\) of 1 domain\(s\) and 0 ACME certificate\(s\) written as files/);
    assert.deepEqual((await readdir(target)).filter((n) => !n.startsWith("mailroom.sqlite-")).sort(), ["blobs", "dkim", "mailroom.lock", "mailroom.sqlite"], "no message folder of the restore is left");

    const embedded = await openSqliteStore({ dataDir: target });
    try {
      assert.deepEqual(await contents(embedded), expected, "same UIDVALIDITY, UIDNEXT, UIDs, flags, dates, bytes, hashes and Sieve script");
      assert.deepEqual(await embedded.listAliases(), aliases);
      const alice = (await embedded.findAccountByAddress("alice@example.org"))!;
      const inbox = (await embedded.getMailbox(alice.id, "INBOX"))!;
      assert.deepEqual((await embedded.getMetadata(alice.id, inbox.id)).map((e) => [e.name, e.value.toString()]), [["/private/comment", "kept"]]);
    } finally {
      await embedded.close();
    }
    assert.deepEqual(await loadDkimKeys(join(target, "dkim"), "example.org"), keys!, "the DKIM keys are files of the embedded store");
  } finally {
    await s.cleanup();
  }
});
