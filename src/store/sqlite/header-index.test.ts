// The header search index and encoded FETCH items (schema.ts, version 12) on a database written
// before them: migration 12 fills Subject and addresses from the stored envelopes and the encoded
// ENVELOPE/BODYSTRUCTURE from the stored envelope and structure, SEARCH HEADER reads those blobs' headers
// from their files until `index rebuild` writes their fields, `index check` reports them as
// missing until then, and damage done with raw SQL is found and repaired.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import type { HeaderSearchField } from "../mail-store.js";
import type { MailboxId } from "../types.js";
import { openSqliteStore, type SqliteStore } from "./sqlite-store.js";

const MESSAGE = Buffer.from(
  "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= from before\r\nFrom: Zoë <zoe@example.test>\r\nX-Tag: =?UTF-8?B?U3RyYcOfZQ==?=\r\n\r\nbody\r\n",
);
const subject: HeaderSearchField = { kind: "subject" };
const from: HeaderSearchField = { kind: "address", field: "from" };
const header = (name: string): HeaderSearchField => ({ kind: "header", name });

async function answers(store: SqliteStore, inbox: MailboxId): Promise<number[][]> {
  return [
    await store.findHeaderMatches(inbox, subject, "GRÜSSE from"),
    await store.findHeaderMatches(inbox, from, "zoë <zoe@"),
    await store.findHeaderMatches(inbox, header("x-tag"), "strasse"),
    await store.findHeaderMatches(inbox, header("received"), "relay"),
    await store.findHeaderMatches(inbox, header("X-Other"), ""),
  ];
}

test("migration 12 on an older database; HEADER from the files until index rebuild; check and rebuild repair damage", async () => {
  const dataDir = await mkdtemp(join(tmpdir(), "mailroom-header-index-"));
  try {
    let store = await openSqliteStore({ dataDir });
    await store.addDomain("example.test");
    const account = await store.createAccount({ address: "a@example.test", passwordHash: "x" });
    const inbox = (await store.getMailbox(account.id, "INBOX"))!.id;
    const traced = await store.deliver({ source: MESSAGE, targets: [{ mailboxId: inbox, prefix: Buffer.from("Received: from relay.example by mx\r\n") }] });
    await store.append(inbox, Buffer.from("Subject: other\r\n\r\nx\r\n"));
    const uid = traced.copies[0]!.uid;
    const expected = [[uid], [uid], [uid], [uid], []];
    assert.deepEqual(await answers(store, inbox), expected, "indexed at delivery");
    const items = await store.getImapItems(inbox, [uid, (uid + 1) as typeof uid]);
    await store.close();

    // What version 11 wrote: no header index (migration 13's tables go too, as it runs again after 12).
    const file = join(dataDir, "mailroom.sqlite");
    let db = new Database(file);
    db.exec(`DROP TRIGGER blobs_header_index_delete; DROP TABLE header_index; DROP TABLE fetch_items;
      DROP TABLE sieve_vacation; DROP TABLE sieve_scripts;
      DROP TABLE spam_tokens; DROP TABLE spam_totals; DROP TABLE spam_trained;
      DROP TABLE greylist_triplets; DROP TABLE greylist_whitelist; DROP TABLE IF EXISTS tls_reports; DROP TABLE sieve_duplicates; DROP TABLE migration_folders; DROP TABLE migration_messages;
      DROP TABLE IF EXISTS metadata_entries; -- migration 29's
      DROP TABLE IF EXISTS admin_users; DROP TABLE IF EXISTS web_sessions; DROP TABLE IF EXISTS api_tokens; -- migration 30's, likewise
      DELETE FROM schema_migrations WHERE version >= 12;`);
    db.close();

    store = await openSqliteStore({ dataDir });
    db = new Database(file, { readonly: true });
    const rows = db.prepare("SELECT subject, from_text, fields FROM header_index ORDER BY text_id").all();
    db.close();
    assert.deepEqual(rows, [
      { subject: "grüsse from before", from_text: "zoë <zoe@example.test>", fields: null },
      { subject: "other", from_text: null, fields: null },
    ], "Subject and From from the envelope, folded; the fields are not known yet");
    assert.deepEqual(await answers(store, inbox), expected, "HEADER answered from the files");
    assert.deepEqual(await store.getImapItems(inbox, [uid, (uid + 1) as typeof uid]), items, "ENVELOPE/BODYSTRUCTURE back-filled as delivery encodes them");
    const before = await store.checkSearchIndex();
    assert.equal(before.missing.length, 2, "blobs without header fields are reported");
    const rebuilt = await store.rebuildSearchIndex();
    assert.equal(rebuilt.rebuilt, 2);
    assert.equal((await store.checkSearchIndex()).remaining, 0);
    assert.deepEqual(await answers(store, inbox), expected, "and from the index after the rebuild");

    // Damage: a changed Subject (stale), a deleted row (missing), an orphan row.
    db = new Database(file);
    db.exec("UPDATE header_index SET subject = 'changed' WHERE subject = 'other'");
    db.exec("DELETE FROM header_index WHERE subject LIKE 'grüsse%'");
    db.exec("INSERT INTO header_index (text_id, subject) VALUES (5000, 'nobody')");
    db.close();
    const damaged = await store.checkSearchIndex();
    assert.deepEqual([damaged.missing.length, damaged.stale.length, damaged.orphans], [1, 1, [5000]]);
    assert.deepEqual(await answers(store, inbox), expected, "a blob without a row is decided from its envelope and file");
    const repaired = await store.rebuildSearchIndex();
    assert.equal(repaired.orphansRemoved, 1);
    assert.equal((await store.checkSearchIndex()).remaining, 0);
    assert.deepEqual(await store.findHeaderMatches(inbox, subject, "other"), [uid + 1]);

    // Expunge removes the row with its blob.
    await store.removeMessages(inbox, [uid, (uid + 1) as typeof uid]);
    await store.close();
    db = new Database(file, { readonly: true });
    assert.equal((db.prepare("SELECT count(*) AS n FROM header_index").get() as { n: number }).n, 0);
    db.close();
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
