// Quota from the operator's side, real `mailroom` processes on a data dir: `[quota]` defaults in
// the config, `mailroom user quota <addr> --storage --messages` (and "default" / "none"), shown by
// `user show` and `user list`; `mailroom store check` finds usage counters that disagree with what
// is stored (both STORAGE and MESSAGE) and --repair recounts them.
import assert from "node:assert/strict";
import Database from "better-sqlite3";
import { join } from "node:path";
import { test } from "node:test";
import { openSqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { makeScratch, runMailroom } from "../harness/mailroom-process.js";

const CONFIG = `[auth]\nargon2_memory_kib = 1024\nargon2_time_cost = 1\n\n[quota]\nstorage = "1G"\nmessages = 50000\nwarning_percent = 80\n`;

test("user quota --storage/--messages over [quota] defaults, user show and list; store check verifies and repairs the counters", async () => {
  const s = await makeScratch(CONFIG);
  try {
    const run = (args: string[], input?: string) => runMailroom(args, { env: s.env, input });
    assert.equal((await run(["--init", "domain", "add", "example.org"])).code, 0);
    assert.equal((await run(["user", "add", "alice@example.org"], "a good password\n")).code, 0);
    const shown = await run(["user", "show", "alice@example.org"]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /^alice@example\.org\s+used 0 B of 1\.0 GiB \(default\), 0 messages of 50000 \(default\)/m);

    const set = await run(["user", "quota", "alice@example.org", "--storage", "2G", "--messages", "100000"]);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /used 0 B of 2\.0 GiB, 0 messages of 100000\s/);
    const unlimited = await run(["user", "quota", "alice@example.org", "--messages", "none"]);
    assert.match(unlimited.stdout, /of 2\.0 GiB, 0 messages of unlimited\s/);
    const back = await run(["user", "quota", "alice@example.org", "default"]);
    assert.match(back.stdout, /of 1\.0 GiB \(default\), 0 messages of unlimited\s/);
    assert.match((await run(["user", "quota", "alice@example.org"])).stdout, /of 1\.0 GiB \(default\)/, "no option: shows it");
    assert.equal((await run(["user", "quota", "alice@example.org", "--messages", "many"])).code, 2);
    assert.equal((await run(["user", "quota", "nobody@example.org", "--messages", "5"])).code, 1);
    assert.match((await run(["user", "list"])).stdout, /alice@example\.org\s+used 0 B of 1\.0 GiB \(default\), 0 messages of unlimited/);

    // Two messages, then counters damaged behind the store's back.
    const store = await openSqliteStore({ dataDir: s.dataDir });
    const alice = (await store.findAccountByAddress("alice@example.org"))!;
    const inbox = (await store.getMailbox(alice.id, "INBOX"))!;
    await store.append(inbox.id, Buffer.from("Subject: one\r\n\r\nfirst\r\n"));
    await store.append(inbox.id, Buffer.from("Subject: two\r\n\r\nsecond\r\n"));
    await store.close();
    assert.equal((await run(["store", "check"])).code, 0);
    const db = new Database(join(s.dataDir, "mailroom.sqlite"));
    db.prepare("UPDATE accounts SET used_messages = 7 WHERE address = 'alice@example.org'").run();
    db.close();
    const damaged = await run(["store", "check"]);
    assert.equal(damaged.code, 1);
    assert.match(damaged.stdout, /usage of alice@example\.org: counter \d+, messages \d+; message counter 7, messages 2 \(--repair recomputes it\)/);
    const repaired = await run(["store", "check", "--repair"]);
    assert.match(repaired.stdout, /message counter 7, messages 2 \(recomputed\)/);
    assert.equal((await run(["store", "check"])).code, 0);
    assert.match((await run(["user", "show", "alice@example.org"])).stdout, /2 messages of unlimited/);
  } finally {
    await s.cleanup();
  }
});
