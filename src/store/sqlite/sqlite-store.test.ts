// SQLite-specific behaviour beyond the contract: migrations, the sweep at open after a crash,
// and bad input that must not corrupt anything.
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import { isStoreError } from "../errors.js";
import { MIGRATIONS } from "./schema.js";
import { openSqliteStore } from "./sqlite-store.js";

async function withDataDir(run: (dataDir: string) => Promise<void>): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), "mailroom-sqlite-"));
  try {
    await run(dataDir);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

test("migrations are recorded once; a database from a newer version is refused", async () => {
  await withDataDir(async (dataDir) => {
    await (await openSqliteStore({ dataDir })).close();
    await (await openSqliteStore({ dataDir })).close();
    const db = new Database(join(dataDir, "mailroom.sqlite"));
    assert.deepEqual(db.prepare("SELECT version FROM schema_migrations").pluck().all(), MIGRATIONS.map((m) => m.version));
    assert.equal(db.pragma("journal_mode", { simple: true }), "wal");
    db.prepare("INSERT INTO schema_migrations VALUES (999, 'future', 0)").run();
    db.close();
    await assert.rejects(openSqliteStore({ dataDir }), (e) => isStoreError(e, "UNAVAILABLE"));
  });
});

test("the sweep at open removes temp files, orphan blob files and unreferenced blob rows", async () => {
  await withDataDir(async (dataDir) => {
    const store = await openSqliteStore({ dataDir });
    await store.addDomain("example.test");
    const account = await store.createAccount({ address: "a@example.test", passwordHash: "x" });
    const inbox = (await store.getMailbox(account.id, "INBOX"))!;
    const kept = await store.append(inbox.id, Buffer.from("Subject: kept\r\n\r\nkept\r\n"));
    await store.close();
    // What a crash can leave: a half-written temp file, a blob renamed into place whose rows never
    // committed, and (belt and braces) a blob row nothing refers to.
    const orphan = "ab".repeat(32);
    await writeFile(join(dataDir, "blobs", "tmp", "4242-crashed"), "half");
    await writeFile(join(dataDir, "blobs", "ab", orphan), "orphan");
    const db = new Database(join(dataDir, "mailroom.sqlite"));
    db.prepare("INSERT INTO blobs (id, size, structure, envelope, search_text) VALUES (?, 1, '{}', '{}', '')").run("cd".repeat(32));
    db.close();
    const reopened = await openSqliteStore({ dataDir });
    assert.deepEqual(await readdir(join(dataDir, "blobs", "tmp")), []);
    assert.ok(!(await readdir(join(dataDir, "blobs", "ab"))).includes(orphan), "orphan blob file removed");
    const [message] = await reopened.getMessages(inbox.id, [kept.uid]);
    assert.ok(message, "referenced message untouched");
    assert.deepEqual(await reopened.collectGarbage(), { blobs: 0, tempFiles: 0 });
    await reopened.close();
  });
});

test("operations after close are refused; close waits for queued commits", async () => {
  await withDataDir(async (dataDir) => {
    const store = await openSqliteStore({ dataDir });
    const pending = store.addDomain("late.test");
    await store.close();
    assert.equal((await pending).name, "late.test");
    await assert.rejects(store.listDomains(), (e) => isStoreError(e, "UNAVAILABLE"));
    await store.close();
  });
});

test("garbage arguments give StoreErrors, never a crash or a half-written row", async () => {
  await withDataDir(async (dataDir) => {
    const store = await openSqliteStore({ dataDir });
    await store.addDomain("example.test");
    const account = await store.createAccount({ address: "a@example.test", passwordHash: "x" });
    const inbox = (await store.getMailbox(account.id, "INBOX"))!;
    const bad: [() => Promise<unknown>, string][] = [
      [() => store.createMailbox(account.id, 42 as unknown as string), "CANNOT"],
      [() => store.addDomain(null as unknown as string), "INVALID"],
      [() => store.createAccount({ address: "b@example.test", passwordHash: "x", quotaBytes: -1 }), "INVALID"],
      [() => store.updateFlags(inbox.id, [], { mode: "toggle" as "set", flags: [] }), "INVALID"],
      [() => store.deliver({ source: Buffer.from("x"), targets: [{ mailboxId: inbox.id, prefix: Buffer.from("no crlf") }] }), "INVALID"],
      [() => store.append(inbox.id, Buffer.from("x"), { internalDate: new Date("nope") }), "INVALID"],
    ];
    for (const [attempt, code] of bad) await assert.rejects(attempt(), (e) => isStoreError(e, code as never), code);
    assert.equal(await store.findAccountByAddress("b@example.test"), null);
    assert.deepEqual(await store.listMessages(inbox.id), []);
    await store.close();
  });
});
