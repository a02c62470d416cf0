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

test("index check finds trigram postings missing or stale behind a correct text; rebuild writes the index again", async () => {
  await withScratchStore(async (store, dataDir, inboxId) => {
    const inbox = inboxId as never;
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      await store.append(inbox, Buffer.from(`Subject: Posting ${i}\r\n\r\nan unbelievable substring${i} here\r\n`));
      ids.push((await store.getMessages(inbox, [(i + 1) as never]))[0]!.blobId);
    }
    assert.equal((await store.checkSearchIndex()).remaining, 0);

    const db = new Database(join(dataDir, "mailroom.sqlite"));
    db.unsafeMode(true); // SQLite's defensive mode keeps FTS5's shadow tables read-only
    const entry = (id: string): { text_id: number; text: string } =>
      db.prepare("SELECT b.text_id, s.text FROM blobs b JOIN search_index s ON s.rowid = b.text_id WHERE b.id = ?").get(id) as { text_id: number; text: string };
    // Postings gone, the content kept: the row deleted, its content written back into FTS5's content table.
    const gone = entry(ids[0]!);
    db.prepare("DELETE FROM search_index WHERE rowid = ?").run(gone.text_id);
    db.prepare("INSERT INTO search_index_content (id, c0) VALUES (?, ?)").run(gone.text_id, gone.text);
    // Postings of another text under the right content: the content written back behind the index's back.
    const stale = entry(ids[1]!);
    db.prepare("UPDATE search_index SET text = 'posting of something else' WHERE rowid = ?").run(stale.text_id);
    db.prepare("UPDATE search_index_content SET c0 = ? WHERE id = ?").run(stale.text, stale.text_id);
    db.close();

    assert.deepEqual((await store.findTextMatches(inbox, "believable", "text")).matches, [3], "search sees the damaged postings");
    const damaged = await store.checkSearchIndex();
    assert.deepEqual(damaged.missing.sort(), [ids[0], ids[1]].sort(), "both found although their texts equal the files'");
    assert.equal(damaged.remaining, 2);

    const rebuilt = await store.rebuildSearchIndex();
    assert.equal(rebuilt.rebuilt, 3);
    assert.equal((await store.checkSearchIndex()).remaining, 0);
    assert.deepEqual((await store.findTextMatches(inbox, "believable", "text")).matches, [1, 2, 3]);
    assert.deepEqual((await store.findTextMatches(inbox, "something else", "text")).matches, [], "the stale postings are gone");
    const check = new Database(join(dataDir, "mailroom.sqlite"), { readonly: true });
    assert.doesNotThrow(() => check.prepare("SELECT 1").get());
    check.close();
    const raw = new Database(join(dataDir, "mailroom.sqlite"));
    assert.doesNotThrow(() => raw.prepare("INSERT INTO search_index (search_index, rank) VALUES ('integrity-check', 0)").run(), "FTS5 finds the index consistent");
    raw.close();
  });
});
