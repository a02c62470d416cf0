// Queue ids are unique for the life of the store (issue 12: five different messages were all
// "queueId 1", since a plain INTEGER PRIMARY KEY gives the id of a completed newest entry to the
// next one). Migration 7 rebuilds the queue with AUTOINCREMENT, keeping the rows of a version 6
// database and their recipients.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import { MIGRATIONS } from "./schema.js";
import { openSqliteStore } from "./sqlite-store.js";
import type { SqliteStore } from "./sqlite-store.js";

async function withDataDir(run: (dataDir: string) => Promise<void>): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), "mailroom-queue-ids-"));
  try {
    await run(dataDir);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

async function enqueueOne(store: SqliteStore, subject: string): Promise<number> {
  const staged = await store.stageMessage(Buffer.from(`Subject: ${subject}\r\n\r\nbody\r\n`));
  const entry = await store.enqueue({ message: staged, mailFrom: "a@example.test", submittedBy: "a@example.test", recipients: [{ address: "b@remote.test", notify: null, originalRecipient: null }], envelopeId: null, ret: null, bodyType: "7BIT", smtputf8: false });
  return entry.id;
}

async function finish(store: SqliteStore, id: number): Promise<void> {
  await store.recordAttempt(id, [{ address: "b@remote.test", state: "delivered", reply: "250 ok" }], new Date());
  await store.complete(id);
}

test("a completed entry's id is never given to the next one, across reopening", async () => {
  await withDataDir(async (dataDir) => {
    let store = await openSqliteStore({ dataDir });
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) {
      const id = await enqueueOne(store, `m${i}`);
      ids.push(id);
      await finish(store, id);
    }
    await store.close();
    store = await openSqliteStore({ dataDir });
    ids.push(await enqueueOne(store, "after reopen"));
    await store.close();
    assert.equal(new Set(ids).size, ids.length, `ids: ${ids.join(", ")}`);
    assert.deepEqual(ids, [...ids].sort((a, b) => a - b), "ids grow");
  });
});

test("migration 7 keeps a version 6 queue (entries, recipients, due index) and continues after its highest id", async () => {
  await withDataDir(async (dataDir) => {
    // A store at version 6 with one entry (two recipients), as the release before wrote it.
    let store = await openSqliteStore({ dataDir });
    const id = await enqueueOne(store, "old");
    await store.close();
    const file = join(dataDir, "mailroom.sqlite");
    const rebuilt = new Database(file);
    const v7 = MIGRATIONS.find((m) => m.version === 7)!;
    // Undo migration 7 the way a version 6 database looks: queue without AUTOINCREMENT.
    rebuilt.pragma("foreign_keys = OFF");
    rebuilt.exec(`
      DROP TRIGGER blobs_header_index_delete; DROP TABLE header_index; DROP TABLE fetch_items; -- migration 12's, first: its trigger reads blobs.text_id
      CREATE TABLE q6 AS SELECT * FROM queue;
      CREATE TABLE r6 AS SELECT * FROM queue_recipients;
      DROP TABLE queue_recipients; DROP TABLE queue;
      CREATE TABLE queue (id INTEGER PRIMARY KEY, mail_from TEXT NOT NULL, submitted_by TEXT, blob_id TEXT NOT NULL REFERENCES blobs(id), prefix BLOB, size INTEGER NOT NULL, envelope_id TEXT, ret TEXT, body_type TEXT NOT NULL, smtputf8 INTEGER NOT NULL, created_at INTEGER NOT NULL, next_attempt_at INTEGER NOT NULL, lease_until INTEGER NOT NULL DEFAULT 0, delay_warned INTEGER NOT NULL DEFAULT 0);
      CREATE INDEX queue_due ON queue(next_attempt_at, id);
      CREATE TABLE queue_recipients (queue_id INTEGER NOT NULL REFERENCES queue(id) ON DELETE CASCADE, position INTEGER NOT NULL, address TEXT NOT NULL, notify TEXT, original_recipient TEXT, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_result TEXT, PRIMARY KEY (queue_id, position), UNIQUE (queue_id, address)) WITHOUT ROWID;
      INSERT INTO queue SELECT id, mail_from, submitted_by, blob_id, prefix, size, envelope_id, ret, body_type, smtputf8, created_at, next_attempt_at, lease_until, delay_warned FROM q6; INSERT INTO queue_recipients SELECT * FROM r6; DROP TABLE q6; DROP TABLE r6; -- q6 has migration 37's require_tls too: the version 6 columns only
      INSERT INTO queue_recipients (queue_id, position, address, state) VALUES (${id}, 1, 'c@remote.test', 'deferred');
      DROP TABLE blob_garbage; -- migration 8's, which a version 6 database does not have either
      -- and migration 9's full-text index, with the text back in the blobs table
      DROP TRIGGER blobs_text_id_update; DROP TRIGGER IF EXISTS blobs_search_words_delete; DROP TABLE IF EXISTS search_words; DROP INDEX messages_text; ALTER TABLE messages DROP COLUMN text_id; -- migration 22's (search_words: until migration 27), first: its triggers read blobs.text_id
      DROP TRIGGER blobs_search_index_delete; DROP INDEX blobs_text; DROP TABLE search_index;
      ALTER TABLE blobs DROP COLUMN text_id; ALTER TABLE blobs DROP COLUMN text_head;
      ALTER TABLE blobs ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
      DROP INDEX messages_unseen; DROP INDEX messages_flags; -- migration 10's
      DROP TABLE IF EXISTS sieve_vacation; DROP TABLE IF EXISTS sieve_scripts; -- migration 13's, likewise
      DROP TABLE IF EXISTS spam_tokens; DROP TABLE IF EXISTS spam_totals; DROP TABLE IF EXISTS spam_trained; -- migration 16's, likewise
      DROP TABLE IF EXISTS greylist_triplets; DROP TABLE IF EXISTS greylist_whitelist; -- migration 17's, likewise
      DROP TABLE IF EXISTS migration_folders; DROP TABLE IF EXISTS migration_messages; -- migration 20's, likewise
      DROP TABLE IF EXISTS tls_reports; -- migration 15's, likewise
      DROP TABLE IF EXISTS sieve_duplicates; -- migration 14's, likewise
      DROP TABLE IF EXISTS metadata_entries; -- migration 29's, likewise
      DROP TABLE IF EXISTS admin_users; DROP TABLE IF EXISTS web_sessions; DROP TABLE IF EXISTS api_tokens; -- migration 30's, likewise
      DROP TABLE IF EXISTS tls_rpt_sessions; -- migration 37's, likewise
      DELETE FROM schema_migrations WHERE version >= ${v7.version};
    `);
    assert.doesNotMatch(rebuilt.prepare("SELECT sql FROM sqlite_master WHERE name = 'queue'").pluck().get() as string, /AUTOINCREMENT/);
    rebuilt.close();

    store = await openSqliteStore({ dataDir });
    const kept = await store.getQueued(id);
    assert.deepEqual(kept?.recipients.map((r) => [r.address, r.state]), [["b@remote.test", "pending"], ["c@remote.test", "deferred"]]);
    assert.equal((await store.leaseDue(new Date(Date.now() + 1000), 10, 60_000)).length, 1, "the due index still serves leaseDue");
    await store.recordAttempt(id, [{ address: "b@remote.test", state: "delivered", reply: "250 ok" }, { address: "c@remote.test", state: "delivered", reply: "250 ok" }], new Date());
    await store.complete(id);
    const next = await enqueueOne(store, "new");
    assert.ok(next > id, `${next} > ${id}`);
    await store.close();
    const db = new Database(file);
    assert.match(db.prepare("SELECT sql FROM sqlite_master WHERE name = 'queue'").pluck().get() as string, /AUTOINCREMENT/);
    assert.deepEqual(db.prepare("SELECT name FROM sqlite_master WHERE name LIKE '%_v6'").all(), []);
    assert.deepEqual(db.pragma("foreign_key_check"), []);
    db.close();
  });
});
