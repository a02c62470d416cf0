// `index check` / `index rebuild` (search-index-check.ts) against an index damaged with raw SQL:
// a deleted entry, an altered text, a wrong header length, an orphan row; rebuild by account
// fixes only that account's blobs, a full rebuild fixes the rest, and search answers again.
import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import type { SearchIndexProgress } from "../maintenance.js";
import { blobFileOf, withScratchStore } from "./scratch-store.js";

test("index check finds a missing entry, a stale text or head, an orphan row; rebuild fixes them", async () => {
  await withScratchStore(async (store, dataDir, inboxId) => {
    const inbox = inboxId as never;
    const other = await store.createAccount({ address: "b@example.test", passwordHash: "x" });
    const otherInbox = (await store.getMailbox(other.id, "INBOX"))!.id;
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      await store.append(inbox, Buffer.from(`Subject: Number ${i}\r\n\r\nThe Straße word${i}\r\n`));
      ids.push((await store.getMessages(inbox, [(i + 1) as never]))[0]!.blobId);
    }
    await store.append(otherInbox, Buffer.from("Subject: Elsewhere\r\n\r\nother account text\r\n"));
    const otherBlob = (await store.getMessages(otherInbox, [1 as never]))[0]!.blobId;

    const clean = await store.checkSearchIndex();
    assert.deepEqual({ blobs: clean.blobs, remaining: clean.remaining }, { blobs: 5, remaining: 0 }, "a store indexed at delivery is clean");

    const db = new Database(join(dataDir, "mailroom.sqlite"));
    const textId = (id: string): number => (db.prepare("SELECT text_id FROM blobs WHERE id = ?").get(id) as { text_id: number }).text_id;
    db.prepare("DELETE FROM search_index WHERE rowid = ?").run(textId(ids[0]!));
    db.prepare("UPDATE search_index SET text = 'something else entirely' WHERE rowid = ?").run(textId(ids[1]!));
    db.prepare("UPDATE blobs SET text_head = NULL WHERE id = ?").run(ids[2]!);
    db.prepare("DELETE FROM search_index WHERE rowid = ?").run(textId(otherBlob));
    // An explicit rowid: with the highest entry deleted, SQLite would hand its rowid out again.
    const orphan = 1000;
    db.prepare("INSERT INTO search_index (rowid, text) VALUES (?, 'nobody refers to me')").run(orphan);
    db.close();

    const phases: SearchIndexProgress[] = [];
    const damaged = await store.checkSearchIndex({ onProgress: (p) => phases.push(p) });
    assert.deepEqual(damaged.missing.sort(), [ids[0], otherBlob].sort());
    assert.deepEqual(damaged.stale.sort(), [ids[1], ids[2]].sort());
    assert.deepEqual(damaged.orphans, [orphan]);
    assert.equal(damaged.remaining, 5);
    assert.ok(phases.some((p) => p.phase === "blobs" && p.done === 5 && p.total === 5), "progress reaches the total");
    assert.deepEqual((await store.findTextMatches(inbox, "word1", "text")).matches, [], "the altered entry is what search sees");

    // One account: its three damaged blobs come back; the other account's entry and the orphan stay.
    const mine = (await store.findAccountByAddress("a@example.test"))!;
    const partial = await store.rebuildSearchIndex({ accountId: mine.id });
    assert.deepEqual({ rebuilt: partial.rebuilt, orphansRemoved: partial.orphansRemoved, unreadable: partial.unreadable }, { rebuilt: 4, orphansRemoved: 0, unreadable: [] });
    const afterPartial = await store.checkSearchIndex();
    assert.deepEqual({ missing: afterPartial.missing, stale: afterPartial.stale, orphans: afterPartial.orphans }, { missing: [otherBlob], stale: [], orphans: [orphan] });
    assert.deepEqual((await store.findTextMatches(inbox, "word1", "text")).matches, [2]);
    assert.deepEqual((await store.findTextMatches(inbox, "strasse word2", "body")), { matches: [3], unverified: [] }, "the header length is back: BODY is verified");

    // Everything: the other account's entry is written, the orphan row goes; a lost file is
    // reported as unreadable (store check's business) and does not count against the index.
    await rm(blobFileOf(dataDir, ids[3]!));
    const full = await store.rebuildSearchIndex();
    assert.deepEqual({ rebuilt: full.rebuilt, orphansRemoved: full.orphansRemoved, unreadable: full.unreadable }, { rebuilt: 4, orphansRemoved: 1, unreadable: [ids[3]] });
    const after = await store.checkSearchIndex();
    assert.deepEqual({ remaining: after.remaining, unreadable: after.unreadable, blobs: after.blobs }, { remaining: 0, unreadable: [ids[3]], blobs: 5 });
    assert.deepEqual((await store.findTextMatches(otherInbox, "other account", "text")).matches, [1]);
  });
});
