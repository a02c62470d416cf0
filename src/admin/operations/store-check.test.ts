// `store check` on a real SQLite store: a clean store is clean; each kind of damage is found and
// named; --repair fixes what it can and reports what remains (a missing or short file); and a
// repair running beside live deliveries never removes a file a delivery is about to commit.
import assert from "node:assert/strict";
import { mkdtemp, rm, truncate, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { test } from "node:test";
import Database from "better-sqlite3";
import type { StoreCheckProgress } from "../../store/index.js";
import { openSqliteStore, type SqliteStore } from "../../store/sqlite/sqlite-store.js";
import { createStoreCheckOperation } from "./store-check.js";

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

async function withStore(run: (store: SqliteStore, dataDir: string, inbox: number) => Promise<void>): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), "mailroom-check-"));
  const store = await openSqliteStore({ dataDir });
  try {
    await store.addDomain("example.test");
    const account = await store.createAccount({ address: "a@example.test", passwordHash: "x" });
    const inbox = (await store.getMailbox(account.id, "INBOX"))!.id;
    await run(store, dataDir, inbox);
  } finally {
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

const fileOf = (dataDir: string, id: string): string => join(dataDir, "blobs", id.slice(0, 2), id);

test("a clean store checks clean, with progress for every phase", async () => {
  await withStore(async (store, _dataDir, inbox) => {
    for (let i = 0; i < 30; i++) await store.append(inbox as never, Buffer.from(`Subject: ${i}\r\n\r\nbody ${i}\r\n`));
    const seen = new Set<string>();
    const result = await createStoreCheckOperation(store)({ onProgress: (p: StoreCheckProgress) => seen.add(p.phase) });
    assert.equal(result.clean, true, result.lines.join("\n"));
    assert.deepEqual([result.report.messages, result.report.blobRows, result.report.blobFiles], [30, 30, 30]);
    assert.deepEqual([...seen].sort(), ["database", "files", "rows", "usage"]);
    assert.match(result.lines.at(-1)!, /^store check: clean/);
    assert.equal(result.report.journalMode, "wal");
  });
});

test("every kind of damage is found; --repair fixes what it can and reports the rest", async () => {
  await withStore(async (store, dataDir, inbox) => {
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      await store.append(inbox as never, Buffer.from(`Subject: ${i}\r\n\r\nbody number ${i}\r\n`));
      ids.push((await store.getMessages(inbox as never, [(i + 1) as never]))[0]!.blobId);
    }
    // A lost file, a short file, an old orphan, a young orphan (a delivery in progress, say),
    // a blob row nothing refers to, and a usage counter that drifted.
    await rm(fileOf(dataDir, ids[0]!));
    await truncate(fileOf(dataDir, ids[1]!), 3);
    const oldOrphan = "ab".repeat(32);
    const youngOrphan = "cd".repeat(32);
    await writeFile(fileOf(dataDir, oldOrphan), "left by a crash");
    await writeFile(fileOf(dataDir, youngOrphan), "being delivered");
    const past = new Date(Date.now() - 2 * 3_600_000);
    await utimes(fileOf(dataDir, oldOrphan), past, past);
    const db = new Database(join(dataDir, "mailroom.sqlite"));
    db.prepare("INSERT INTO blobs (id, size, structure, envelope, search_text) VALUES (?, 1, '{}', '{}', '')").run("ef".repeat(32));
    db.prepare("UPDATE accounts SET used_bytes = used_bytes + 1000").run();
    db.close();

    const check = createStoreCheckOperation(store);
    const found = await check();
    assert.equal(found.clean, false);
    assert.deepEqual(found.report.missingFiles, [{ blobId: ids[0], messages: 1 }]);
    assert.deepEqual(found.report.wrongSize.map((w) => [w.blobId, w.actual]), [[ids[1], 3]]);
    assert.deepEqual(found.report.orphanFiles.sort(), [oldOrphan, youngOrphan]);
    assert.equal(found.report.unreferencedRows, 1);
    assert.equal(found.report.usage.length, 1);
    assert.equal(found.report.usage[0]!.recorded - found.report.usage[0]!.actual, 1000);
    assert.equal(found.report.remaining, 6);

    const repaired = await check({ repair: true });
    assert.equal(repaired.report.repaired.orphanFilesRemoved, 1, "only the old orphan");
    assert.equal(repaired.report.repaired.unreferencedRowsQueued, 1);
    assert.equal(repaired.report.repaired.usageFixed, 1);
    const after = await check();
    assert.deepEqual(after.report.orphanFiles, [youngOrphan]);
    assert.equal(after.report.unreferencedRows, 0);
    assert.deepEqual(after.report.usage, []);
    assert.equal(after.report.remaining, 3, "the lost file, the short file and the young orphan remain");
    assert.ok(after.lines.some((line) => /missing files: 1 \(1 message\(s\) answer SERVERBUG/.test(line)), after.lines.join("\n"));
  });
});

test("a repair beside live deliveries never takes a file a delivery is about to commit", async () => {
  await withStore(async (store, _dataDir, inbox) => {
    const check = createStoreCheckOperation(store);
    let stop = false;
    const delivered: [number, Buffer][] = [];
    const deliveries = (async () => {
      for (let i = 0; !stop; i++) {
        const bytes = Buffer.from(`Subject: live ${i}\r\n\r\n${"x".repeat(i * 37)}\r\n`);
        const copy = await store.append(inbox as never, bytes);
        delivered.push([copy.uid, bytes]);
      }
    })();
    for (let i = 0; i < 5; i++) await check({ repair: true, orphanMinAgeMs: 0 });
    stop = true;
    await deliveries;
    assert.ok(delivered.length > 0);
    for (const [uid, bytes] of delivered) {
      const [message] = await store.getMessages(inbox as never, [uid as never]);
      assert.deepEqual(await readAll(store.openMessage(message!)), bytes);
    }
    assert.equal((await check()).clean, true);
  });
});
