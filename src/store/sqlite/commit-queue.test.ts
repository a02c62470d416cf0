import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { silentLogger } from "../../observability/log.js";
import type { ChangeBatch } from "../changes.js";
import { asAccountId } from "../types.js";
import { CommitQueue } from "./commit-queue.js";
import { openDatabase, type SqliteDatabase } from "./sqlite-database.js";

async function withDatabase(run: (db: SqliteDatabase, statements: string[]) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "mailroom-queue-"));
  const db = openDatabase(join(dir, "queue.sqlite"), () => new Date());
  db.exec("CREATE TABLE t (v INTEGER NOT NULL UNIQUE)");
  const statements: string[] = [];
  const exec = db.exec.bind(db);
  db.exec = (sql: string) => {
    statements.push(sql);
    return exec(sql);
  };
  try {
    await run(db, statements);
  } finally {
    db.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const insert = (db: SqliteDatabase, v: number) => () => ({ result: db.prepare("INSERT INTO t (v) VALUES (?)").run(v).changes, batches: [] });

test("concurrent submissions commit in one transaction; a failing item fails alone", async () => {
  await withDatabase(async (db, statements) => {
    const published: ChangeBatch[] = [];
    const queue = new CommitQueue(db, { grouped: true, publish: (b) => published.push(b), log: silentLogger });
    const announce = (v: number) => () => ({ result: v, batches: [{ accountId: asAccountId(1), changes: [{ kind: "subscription" as const, name: String(v), subscribed: true }] }] });
    const results = await Promise.allSettled([queue.submit(insert(db, 1)), queue.submit(insert(db, 1)), queue.submit(insert(db, 2)), queue.submit(announce(7))]);
    assert.deepEqual(results.map((r) => r.status), ["fulfilled", "rejected", "fulfilled", "fulfilled"]);
    assert.equal(statements.filter((s) => s === "COMMIT").length, 1, "one COMMIT for the whole group");
    assert.deepEqual(db.prepare("SELECT v FROM t ORDER BY v").pluck().all(), [1, 2]);
    assert.deepEqual(published.map((b) => b.changes[0]), [{ kind: "subscription", name: "7", subscribed: true }]);
    await queue.drain();
  });
});

test("without grouping each submission is its own transaction", async () => {
  await withDatabase(async (db, statements) => {
    const queue = new CommitQueue(db, { grouped: false, publish: () => {}, log: silentLogger });
    await Promise.all([queue.submit(insert(db, 1)), queue.submit(insert(db, 2)), queue.submit(insert(db, 3))]);
    assert.equal(statements.filter((s) => s === "COMMIT").length, 3);
  });
});

test("nothing is published and every caller fails when COMMIT fails", async () => {
  await withDatabase(async (db) => {
    const published: ChangeBatch[] = [];
    const queue = new CommitQueue(db, { grouped: true, publish: (b) => published.push(b), log: silentLogger });
    const exec = db.exec;
    db.exec = (sql: string) => {
      if (sql === "COMMIT") throw Object.assign(new Error("disk I/O error"), { code: "SQLITE_IOERR" });
      return exec(sql);
    };
    const work = () => ({ result: 1, batches: [{ accountId: asAccountId(1), changes: [] }] });
    const results = await Promise.allSettled([queue.submit(work), queue.submit(insert(db, 5))]);
    assert.ok(results.every((r) => r.status === "rejected" && (r.reason as { code?: string }).code === "UNAVAILABLE"));
    assert.deepEqual(published, []);
    db.exec = exec;
    assert.deepEqual(db.prepare("SELECT v FROM t").all(), [], "the group was rolled back");
  });
});
