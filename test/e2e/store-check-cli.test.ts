// `mailroom store check [--repair]` as an operator runs it: a real process on a data dir; progress
// as plain lines when stderr is not a terminal; exit 0 when clean, 1 while problems remain.
import assert from "node:assert/strict";
import { readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { openSqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { makeScratch, runMailroom } from "../harness/mailroom-process.js";

test("store check: clean store exits 0; a lost file exits 1 and is named; --repair leaves a young orphan", async () => {
  const s = await makeScratch(`[auth]\nargon2_memory_kib = 1024\nargon2_time_cost = 1\n`);
  try {
    const store = await openSqliteStore({ dataDir: s.dataDir });
    await store.addDomain("example.org");
    const account = await store.createAccount({ address: "alice@example.org", passwordHash: "x" });
    const inbox = (await store.getMailbox(account.id, "INBOX"))!;
    await store.append(inbox.id, Buffer.from("Subject: one\r\n\r\nfirst\r\n"));
    await store.append(inbox.id, Buffer.from("Subject: two\r\n\r\nsecond\r\n"));
    const [lost] = await store.getMessages(inbox.id, [2 as never]);
    await store.close();

    const clean = await runMailroom(["store", "check"], { env: s.env });
    assert.equal(clean.code, 0, clean.stderr);
    assert.match(clean.stdout, /^messages: 2, blob rows: 2, blob files: 2$/m);
    assert.match(clean.stdout, /^store check: clean/m);
    assert.match(clean.stderr, /^files have their rows: 256\/256 checked$/m, "plain progress lines off a terminal");

    await rm(join(s.dataDir, "blobs", lost!.blobId.slice(0, 2), lost!.blobId));
    const orphan = "ab".repeat(32);
    await writeFile(join(s.dataDir, "blobs", "ab", orphan), "left by a crash");
    const damaged = await runMailroom(["store", "check"], { env: s.env });
    assert.equal(damaged.code, 1);
    assert.match(damaged.stdout, new RegExp(`missing files: 1 .*${lost!.blobId}`));
    assert.match(damaged.stdout, new RegExp(`files without a row: 1 \\(--repair removes them\\): ${orphan}`));
    assert.match(damaged.stderr, /2 problem\(s\) remain/);
    assert.ok((await readdir(join(s.dataDir, "blobs", "ab"))).includes(orphan), "a check without --repair changes nothing");

    // A fresh orphan may be a delivery in progress: --repair leaves files younger than an hour.
    const young = await runMailroom(["store", "check", "--repair"], { env: s.env });
    assert.equal(young.code, 1);
    assert.match(young.stdout, /files without a row: 1, 0 removed/);
  } finally {
    await s.cleanup();
  }
});
