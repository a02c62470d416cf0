// Migration 28 (schema.ts, store/object-ids.ts) on a database written before it: every existing
// message gets an EMAILID and a THREADID of its own, reports its INTERNALDATE as the save date and
// no stored preview (FETCH PREVIEW then parses the bytes); what is delivered afterwards gets all
// of them, and running the migration again (a rewound history) changes nothing already set.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import { OBJECT_ID } from "../object-ids.js";
import { openSqliteStore } from "./sqlite-store.js";

test("migration 28 gives existing messages ids and leaves their save date to INTERNALDATE", async () => {
  const dataDir = await mkdtemp(join(tmpdir(), "mailroom-objectids-"));
  try {
    let store = await openSqliteStore({ dataDir });
    await store.addDomain("example.test");
    const account = await store.createAccount({ address: "a@example.test", passwordHash: "x" });
    const inbox = (await store.getMailbox(account.id, "INBOX"))!.id;
    const old = new Date("2021-05-06T07:08:09Z");
    const first = (await store.deliver({ source: Buffer.from("Subject: a\r\nMessage-ID: <a@x>\r\n\r\nfirst body\r\n"), internalDate: old, targets: [{ mailboxId: inbox }] })).copies[0]!.uid;
    const second = (await store.deliver({ source: Buffer.from("Subject: b\r\nIn-Reply-To: <a@x>\r\n\r\nsecond\r\n"), internalDate: old, targets: [{ mailboxId: inbox }] })).copies[0]!.uid;
    await store.close();

    const file = join(dataDir, "mailroom.sqlite");
    const db = new Database(file);
    db.exec(`ALTER TABLE messages DROP COLUMN email_id; ALTER TABLE messages DROP COLUMN thread_id; ALTER TABLE messages DROP COLUMN save_date;
      ALTER TABLE blobs DROP COLUMN preview; DROP TABLE thread_keys;
      DELETE FROM schema_migrations WHERE version >= 28;`);
    db.close();

    store = await openSqliteStore({ dataDir });
    const before = await store.getMessageAttributes(inbox, [first, second]);
    assert.equal(before.length, 2);
    for (const a of before) {
      assert.match(a.emailId, OBJECT_ID);
      assert.match(a.threadId ?? "", OBJECT_ID);
      assert.equal(a.saveDate.toISOString(), old.toISOString(), "INTERNALDATE stands in for the unknown save date");
      assert.equal(a.preview, null, "no stored preview");
    }
    assert.notEqual(before[0]!.emailId, before[1]!.emailId);
    assert.notEqual(before[0]!.threadId, before[1]!.threadId, "existing messages are not threaded after the fact");

    const reply = (await store.deliver({ source: Buffer.from("Subject: c\r\nReferences: <a@x>\r\n\r\nthird\r\n"), targets: [{ mailboxId: inbox }] })).copies[0]!.uid;
    const [fresh] = await store.getMessageAttributes(inbox, [reply]);
    assert.equal(fresh!.preview, "third");
    assert.ok(Date.now() - fresh!.saveDate.getTime() < 60_000);
    await store.close();

    // Run again over a history rewound below 28: what was set stays.
    const again = new Database(file);
    again.exec("DELETE FROM schema_migrations WHERE version >= 28");
    again.close();
    store = await openSqliteStore({ dataDir });
    assert.deepEqual(await store.getMessageAttributes(inbox, [first, second, reply]), [...before, fresh]);
    await store.close();
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
