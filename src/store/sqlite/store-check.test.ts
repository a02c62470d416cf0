// The store's own check (store-check.ts) against every kind of damage, some made with raw SQL:
// what is found, what --repair fixes, and what it leaves and reports (a missing or short file).
import assert from "node:assert/strict";
import { rm, truncate, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import { blobFileOf, withScratchStore } from "./scratch-store.js";


test("every kind of damage is found; --repair fixes what it can and reports the rest", async () => {
  await withScratchStore(async (store, dataDir, inbox) => {
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      await store.append(inbox as never, Buffer.from(`Subject: ${i}\r\n\r\nbody number ${i}\r\n`));
      ids.push((await store.getMessages(inbox as never, [(i + 1) as never]))[0]!.blobId);
    }
    // A lost file, a short file, an old orphan, a young orphan (a delivery in progress, say),
    // a blob row nothing refers to, and a usage counter that drifted.
    await rm(blobFileOf(dataDir, ids[0]!));
    await truncate(blobFileOf(dataDir, ids[1]!), 3);
    const oldOrphan = "ab".repeat(32);
    const youngOrphan = "cd".repeat(32);
    await writeFile(blobFileOf(dataDir, oldOrphan), "left by a crash");
    await writeFile(blobFileOf(dataDir, youngOrphan), "being delivered");
    const past = new Date(Date.now() - 2 * 3_600_000);
    await utimes(blobFileOf(dataDir, oldOrphan), past, past);
    const db = new Database(join(dataDir, "mailroom.sqlite"));
    db.prepare("INSERT INTO blobs (id, size, structure, envelope) VALUES (?, 1, '{}', '{}')").run("ef".repeat(32));
    db.prepare("UPDATE accounts SET used_bytes = used_bytes + 1000").run();
    db.close();

    const check = (options = {}) => store.checkStore(options);
    const found = await check();
    assert.equal(found.remaining > 0, true);
    assert.deepEqual(found.missingFiles, [{ blobId: ids[0], messages: 1 }]);
    assert.deepEqual(found.wrongSize.map((w) => [w.blobId, w.actual]), [[ids[1], 3]]);
    assert.deepEqual(found.orphanFiles.sort(), [oldOrphan, youngOrphan]);
    assert.equal(found.unreferencedRows, 1);
    assert.equal(found.usage.length, 1);
    assert.equal(found.usage[0]!.recorded - found.usage[0]!.actual, 1000);
    assert.equal(found.remaining, 6);

    const repaired = await check({ repair: true });
    assert.equal(repaired.repaired.orphanFilesRemoved, 1, "only the old orphan");
    assert.equal(repaired.repaired.unreferencedRowsQueued, 1);
    assert.equal(repaired.repaired.usageFixed, 1);
    const after = await check();
    assert.deepEqual(after.orphanFiles, [youngOrphan]);
    assert.equal(after.unreferencedRows, 0);
    assert.deepEqual(after.usage, []);
    assert.equal(after.remaining, 3, "the lost file, the short file and the young orphan remain");
  });
});

