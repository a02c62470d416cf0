// The `store check` operation on a real SQLite store: a clean store is clean; damage is named in
// the operator's words and the verdict follows what remains; and a repair running beside live
// deliveries never removes a file a delivery is about to commit. Every kind of damage, down to
// rows edited by hand, is checked in src/store/sqlite/store-check.test.ts.
import assert from "node:assert/strict";
import { rm, utimes, writeFile } from "node:fs/promises";
import type { Readable } from "node:stream";
import { test } from "node:test";
import type { StoreCheckProgress } from "../../store/index.js";
import { blobFileOf, withScratchStore } from "../../store/sqlite/scratch-store.js";
import { createStoreCheckOperation } from "./store-check.js";

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}


test("a clean store checks clean, with progress for every phase", async () => {
  await withScratchStore(async (store, _dataDir, inbox) => {
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

test("a lost file and an orphan are named, the verdict is not clean; --repair removes the old orphan only", async () => {
  await withScratchStore(async (store, dataDir, inbox) => {
    await store.append(inbox as never, Buffer.from("Subject: one\r\n\r\nfirst\r\n"));
    const [lost] = await store.getMessages(inbox as never, [1 as never]);
    await rm(blobFileOf(dataDir, lost!.blobId));
    const orphan = "ab".repeat(32);
    await writeFile(blobFileOf(dataDir, orphan), "left by a crash");
    const past = new Date(Date.now() - 2 * 3_600_000);
    await utimes(blobFileOf(dataDir, orphan), past, past);
    const check = createStoreCheckOperation(store);
    const found = await check();
    assert.equal(found.clean, false);
    assert.ok(found.lines.some((line) => line.startsWith(`missing files: 1 (1 message(s) answer SERVERBUG until the file is restored from a backup): ${lost!.blobId}`)), found.lines.join("\n"));
    assert.ok(found.lines.includes(`files without a row: 1 (--repair removes them): ${orphan}`), found.lines.join("\n"));
    assert.match(found.lines.at(-1)!, /^store check: 2 problem\(s\) remain/);
    const repaired = await check({ repair: true });
    assert.ok(repaired.lines.includes(`files without a row: 1, 1 removed: ${orphan}`), repaired.lines.join("\n"));
    assert.equal(repaired.report.remaining, 1, "the lost file remains");
  });
});

test("a repair beside live deliveries never takes a file a delivery is about to commit", async () => {
  await withScratchStore(async (store, _dataDir, inbox) => {
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
