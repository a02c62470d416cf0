// Migration 11 (docs/architecture.md, "Disk layout"): the blobs table, WITHOUT ROWID keyed by random
// hashes before, becomes a rowid table with the hash as a unique key, in place, keeping every row
// and every reference to it (messages, holds) valid.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import { openSqliteStore } from "./sqlite-store.js";

const line = "The quick brown fox jumps over the lazy dog, again and again.\r\n";

test("migration 11 rebuilds a WITHOUT ROWID blobs table in place, keeping messages, their bytes and references", async () => {
  const dataDir = await mkdtemp(join(tmpdir(), "mailroom-compact-blobs-"));
  try {
    let store = await openSqliteStore({ dataDir });
    await store.addDomain("example.org");
    const account = await store.createAccount({ address: "a@example.org", passwordHash: "x" });
    const inbox = (await store.getMailbox(account.id, "INBOX"))!;
    const bodies = Array.from({ length: 5 }, (_, i) => Buffer.from(`Subject: m${i}\r\n\r\n${line.repeat(100 * (i + 1))}`));
    for (const body of bodies) await store.deliver({ source: body, targets: [{ mailboxId: inbox.id }] });
    const before = await store.getMessages(inbox.id, (await store.listMessages(inbox.id)).map((m) => m.uid));
    await store.close();

    // Back to the layout of migrations 1-10: WITHOUT ROWID, large columns before crlf_size, with the
    // search index's unique index and delete trigger (migration 9) on it.
    const file = join(dataDir, "mailroom.sqlite");
    const raw = new Database(file);
    raw.pragma("foreign_keys = OFF");
    raw.exec(`CREATE TABLE old_blobs (id TEXT PRIMARY KEY, size INTEGER NOT NULL, structure TEXT NOT NULL, envelope TEXT NOT NULL, crlf_size INTEGER, text_id INTEGER, text_head INTEGER) WITHOUT ROWID;
      INSERT INTO old_blobs SELECT id, size, structure, envelope, crlf_size, text_id, text_head FROM blobs;
      DROP TABLE blobs; ALTER TABLE old_blobs RENAME TO blobs;
      CREATE UNIQUE INDEX blobs_text ON blobs(text_id);
      CREATE TRIGGER blobs_search_index_delete AFTER DELETE ON blobs BEGIN DELETE FROM search_index WHERE rowid = old.text_id; END;
      DROP TABLE header_index; DROP TABLE fetch_items; -- migration 12's (its trigger went with the old blobs table)
      DROP TABLE sieve_vacation; DROP TABLE sieve_scripts; -- migration 13's, which runs again after 11
      DROP TABLE spam_tokens; DROP TABLE spam_totals; DROP TABLE spam_trained; -- migration 16's, likewise
      DROP TABLE greylist_triplets; DROP TABLE greylist_whitelist; -- migration 17's, likewise
      DROP TABLE migration_folders; DROP TABLE migration_messages; -- migration 20's, likewise
      DROP TABLE IF EXISTS tls_reports; -- migration 15's, likewise
      DROP TABLE sieve_duplicates; -- migration 14's, likewise
      DROP TABLE IF EXISTS metadata_entries; -- migration 29's, likewise
      DROP TABLE IF EXISTS admin_users; DROP TABLE IF EXISTS web_sessions; DROP TABLE IF EXISTS api_tokens; -- migration 30's, likewise
      DELETE FROM schema_migrations WHERE version >= 11;`);
    assert.match((raw.prepare("SELECT sql FROM sqlite_master WHERE name = 'blobs'").get() as { sql: string }).sql, /WITHOUT ROWID/);
    raw.close();

    store = await openSqliteStore({ dataDir });
    const after = await store.getMessages(inbox.id, before.map((m) => m.uid));
    assert.deepEqual(after, before, "every message with its structure and envelope");
    const sizes = await store.getCrlfSizes(inbox.id, before.map((m) => m.uid));
    assert.deepEqual([...sizes.values()].map((size) => size !== null), [true, true, true, true, true]);
    for (const [i, message] of after.entries()) {
      const chunks: Buffer[] = [];
      for await (const chunk of store.openMessage(message)) chunks.push(chunk as Buffer);
      assert.ok(Buffer.concat(chunks).includes(bodies[i]!), `message ${i} reads back`);
    }
    // The hash stays unique: the same bytes again share the row (INSERT OR IGNORE), no duplicate.
    await store.deliver({ source: bodies[0]!, targets: [{ mailboxId: inbox.id }] });
    // The indexed text survived the rebuild, and still leaves with the blob's last message.
    assert.deepEqual((await store.findTextMatches(inbox.id, "lazy dog", "body")).matches.length, 6);
    await store.removeMessages(inbox.id, [after[4]!.uid]);
    await store.close();

    const check = new Database(file, { readonly: true });
    const sql = (check.prepare("SELECT sql FROM sqlite_master WHERE name = 'blobs'").get() as { sql: string }).sql;
    assert.doesNotMatch(sql, /WITHOUT ROWID/);
    assert.ok(sql.indexOf("crlf_size") < sql.indexOf("search_text") || !sql.includes("search_text"), `small columns first: ${sql}`);
    assert.equal((check.prepare("SELECT count(*) AS n FROM blobs").get() as { n: number }).n, 4);
    assert.equal((check.prepare("SELECT count(*) AS n FROM search_index").get() as { n: number }).n, 4, "the removed blob's text went with it");
    assert.deepEqual(check.prepare("SELECT name FROM sqlite_master WHERE tbl_name = 'blobs' AND type IN ('index', 'trigger') AND sql IS NOT NULL ORDER BY name").all(), [{ name: "blobs_header_index_delete" }, { name: "blobs_search_index_delete" }, { name: "blobs_text" }, { name: "blobs_text_id_update" }]);
    assert.deepEqual(check.prepare("SELECT * FROM pragma_foreign_key_check").all(), []);
    assert.ok((check.prepare("SELECT count(*) AS n FROM schema_migrations WHERE version = 11").get() as { n: number }).n === 1, "migration 11 recorded");
    check.close();
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
