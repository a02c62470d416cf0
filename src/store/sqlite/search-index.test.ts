// Migration 9 on a store written before the full-text index: the text kept in blobs.search_text
// moves into the index, folded (so TEXT finds it however it is cased), the plain copy goes, and
// BODY on such a blob is reported unverified because its header/body split was never recorded.
// Messages stored afterwards are indexed at delivery and removed with their last row.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import { openSqliteStore } from "./sqlite-store.js";

test("migration 9 backfills the index from a version 8 store and drops the text copy", async () => {
  const dataDir = await mkdtemp(join(tmpdir(), "mailroom-search-index-"));
  try {
    let store = await openSqliteStore({ dataDir });
    await store.addDomain("example.test");
    const account = await store.createAccount({ address: "a@example.test", passwordHash: "$argon2id$test", quotaBytes: null });
    const inbox = (await store.getMailbox(account.id, "INBOX"))!;
    const old = await store.append(inbox.id, Buffer.from("Subject: Old one\r\n\r\nDie STRAßE ist lang\r\n"));
    await store.close();

    // Turn the file back into what version 8 wrote: the unfolded text in blobs.search_text.
    const db = new Database(join(dataDir, "mailroom.sqlite"));
    db.exec(`
      DROP TRIGGER blobs_header_index_delete; DROP TABLE header_index; DROP TABLE fetch_items; -- migration 12's, first: its trigger reads blobs.text_id
      ALTER TABLE blobs ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
      UPDATE blobs SET search_text = 'Old one' || char(10) || 'Die STRAßE ist lang';
      DROP TRIGGER blobs_text_id_update; DROP TRIGGER IF EXISTS blobs_search_words_delete; DROP TABLE IF EXISTS search_words; DROP INDEX messages_text; ALTER TABLE messages DROP COLUMN text_id; -- migration 22's (search_words: until migration 27), first: its triggers read blobs.text_id
      DROP TRIGGER blobs_search_index_delete; DROP INDEX blobs_text; DROP TABLE search_index;
      ALTER TABLE blobs DROP COLUMN text_id; ALTER TABLE blobs DROP COLUMN text_head;
      DROP INDEX messages_unseen; DROP INDEX messages_flags; DROP TABLE sieve_vacation; DROP TABLE sieve_scripts; DROP TABLE sieve_duplicates;
      DROP TABLE spam_tokens; DROP TABLE spam_totals; DROP TABLE spam_trained;
      DROP TABLE greylist_triplets; DROP TABLE greylist_whitelist; DROP TABLE IF EXISTS tls_reports; DROP TABLE migration_folders; DROP TABLE migration_messages;
      DROP TABLE IF EXISTS metadata_entries; -- migration 29's
      DROP TABLE IF EXISTS admin_users; DROP TABLE IF EXISTS web_sessions; DROP TABLE IF EXISTS api_tokens; -- migration 30's, likewise
      DELETE FROM schema_migrations WHERE version >= 9;
    `);
    db.close();

    store = await openSqliteStore({ dataDir });
    assert.deepEqual((await store.findTextMatches(inbox.id, "strasse", "text")).matches, [old.uid], "folded by the migration");
    assert.deepEqual(await store.findTextMatches(inbox.id, "straße", "body"), { matches: [], unverified: [old.uid] });
    assert.deepEqual(await store.findTextMatches(inbox.id, "zz", "body"), { matches: [], unverified: [] });
    assert.equal(await store.getSearchText(inbox.id, old.uid), "old one\ndie strasse ist lang");
    const fresh = await store.append(inbox.id, Buffer.from("Subject: New one\r\n\r\nStrasse again\r\n"));
    assert.deepEqual(await store.findTextMatches(inbox.id, "STRASSE", "body"), { matches: [fresh.uid], unverified: [old.uid] });
    await store.removeMessages(inbox.id, [old.uid, fresh.uid]);
    await store.close();

    const check = new Database(join(dataDir, "mailroom.sqlite"), { readonly: true });
    const columns = (check.prepare("PRAGMA table_info(blobs)").all() as { name: string }[]).map((c) => c.name);
    assert.ok(!columns.includes("search_text"), "no second copy of the text");
    assert.equal((check.prepare("SELECT count(*) AS n FROM search_index").get() as { n: number }).n, 0, "removed with the last row");
    check.close();
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
