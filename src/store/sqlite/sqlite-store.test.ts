// SQLite-specific behaviour beyond the contract: migrations, garbage collection only by the collector,
// and bad input that must not corrupt anything.
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { test } from "node:test";
import Database from "better-sqlite3";
import { isStoreError } from "../errors.js";
import { MIGRATIONS } from "./schema.js";
import { openSqliteStore } from "./sqlite-store.js";

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

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

test("opening the store removes nothing; the started collector removes what a crash left", async () => {
  await withDataDir(async (dataDir) => {
    const store = await openSqliteStore({ dataDir });
    await store.addDomain("example.test");
    const account = await store.createAccount({ address: "a@example.test", passwordHash: "x" });
    const inbox = (await store.getMailbox(account.id, "INBOX"))!;
    const kept = await store.append(inbox.id, Buffer.from("Subject: kept\r\n\r\nkept\r\n"));
    const expunged = await store.append(inbox.id, Buffer.from("Subject: gone\r\n\r\ngone\r\n"));
    const [gone] = await store.getMessages(inbox.id, [expunged.uid]);
    await store.removeMessages(inbox.id, [expunged.uid]);
    await store.close();
    // What a crash can leave: a half-written temp file of a dead writer, and a blob renamed into
    // place whose rows never committed; and the expunged message's file, queued as garbage.
    const orphan = "ab".repeat(32);
    const temp = "4194999-0f0e0d0c-0b0a-4908-8706-050403020100";
    await writeFile(join(dataDir, "blobs", "tmp", temp), "half");
    await writeFile(join(dataDir, "blobs", "ab", orphan), "orphan");
    const goneFile = join(dataDir, "blobs", gone!.blobId.slice(0, 2), gone!.blobId);
    const snapshot = async () => [await readdir(join(dataDir, "blobs", "tmp")), await readdir(join(dataDir, "blobs", "ab")), await readdir(join(dataDir, "blobs", gone!.blobId.slice(0, 2)))];
    const before = await snapshot();
    // Open as an admin command does, run a few operations, close: not a file changes.
    const admin = await openSqliteStore({ dataDir, collector: { orphanMinAgeMs: 0 } });
    await admin.listAccounts();
    await admin.addDomain("other.test");
    await admin.close();
    assert.deepEqual(await snapshot(), before, "opening never deletes");
    assert.ok(before[2]!.includes(gone!.blobId), "the expunged message's file waits for the collector");

    const serving = await openSqliteStore({ dataDir, collector: { orphanMinAgeMs: 0 } });
    serving.startCollector();
    const report = await serving.collector.runUntilIdle();
    assert.deepEqual(await readdir(join(dataDir, "blobs", "tmp")), []);
    assert.ok(!(await readdir(join(dataDir, "blobs", "ab"))).includes(orphan), "orphan blob file removed");
    await assert.rejects(readFile(goneFile), { code: "ENOENT" });
    assert.deepEqual([report.removed, report.orphansRemoved, report.tempFilesRemoved], [1, 1, 1]);
    const [message] = await serving.getMessages(inbox.id, [kept.uid]);
    assert.equal((await readAll(serving.openMessage(message!))).toString(), "Subject: kept\r\n\r\nkept\r\n", "referenced message untouched");
    const again = await serving.collector.runUntilIdle();
    assert.deepEqual([again.removed, again.orphansRemoved, again.tempFilesRemoved], [0, 0, 0]);
    await serving.close();
  });
});

test("the collector's ticks are bounded: a backlog is drained a batch at a time", async () => {
  await withDataDir(async (dataDir) => {
    const store = await openSqliteStore({ dataDir, collector: { batchSize: 10, orphanMinAgeMs: 0 } });
    await store.addDomain("example.test");
    const account = await store.createAccount({ address: "a@example.test", passwordHash: "x" });
    const inbox = (await store.getMailbox(account.id, "INBOX"))!;
    const uids = [];
    for (let i = 0; i < 25; i++) uids.push((await store.append(inbox.id, Buffer.from(`Subject: ${i}\r\n\r\nbody ${i}\r\n`))).uid);
    await store.removeMessages(inbox.id, uids);
    const first = await store.collector.tick();
    assert.equal(first.removed, 10);
    assert.equal(first.backlog, true);
    assert.ok(first.scanned <= 256, "one slice of the orphan scan");
    const second = await store.collector.tick();
    const third = await store.collector.tick();
    assert.deepEqual([second.removed, third.removed, third.backlog], [10, 5, false]);
    await store.close();
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
